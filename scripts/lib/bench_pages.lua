-- The wrk driver of scripts/bench's client pages part. A stub that
-- scripts/lib/bench_pages.py writes sets `bench` and loads this file:
--   bench.items   a file of requests, one a line: path, then cookie and CSRF
--                 token (tab-separated; both empty for the API)
--   bench.method  GET or POST; bench.auth: keep the bearer token run_wrk adds
--   bench.body    a fixed body; bench.form: a form body that follows the CSRF
--   bench.type    the body's Content-Type
--   bench.status  the status every answer must have; bench.location: the
--                 start its Location must have
--   bench.walk    true: each request takes a line no request took before, in
--                 this run or an earlier one (bench.state keeps where the last
--                 run stopped), and a thread stops when the lines run out;
--                 false: the lines are cycled
--   bench.report  where done() adds a line (so a warm-up and the measured run
--                 make two): requests sent, unexpected answers, whether a
--                 thread ran out, the first unexpected answer
-- Thread k of n takes lines k, k + STRIDE, k + 2 STRIDE, ...

local STRIDE = 2 -- scripts/bench's run_wrk runs at most two threads

local items = {}
for line in io.lines(bench.items) do
    local path, cookie, csrf = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)$")
    items[#items + 1] = { path = path, cookie = cookie ~= "" and cookie or nil, csrf = csrf }
end
local total = #items

-- The main state: hands each thread its first line, collects the counts.
local threads = {}
local offset = 0

function setup(thread)
    if #threads == 0 and bench.walk then
        local f = io.open(bench.state)
        if f then
            offset = tonumber(f:read("*l")) or 0
            f:close()
        end
    end
    threads[#threads + 1] = thread
    if #threads > STRIDE then
        error("bench_pages.lua takes at most " .. STRIDE .. " threads")
    end
    thread:set("first", offset + #threads)
end

function done(summary, latency, requests)
    local sent, most, bad, out, example = 0, 0, 0, 0, ""
    for _, thread in ipairs(threads) do
        local n = thread:get("sent")
        sent = sent + n
        most = math.max(most, n)
        bad = bad + thread:get("bad")
        out = math.max(out, thread:get("ran_out"))
        if example == "" then
            example = thread:get("bad_example")
        end
    end
    if bench.walk then
        local f = assert(io.open(bench.state, "w"))
        f:write(offset + STRIDE * most, "\n")
        f:close()
    end
    local f = assert(io.open(bench.report, "a"))
    f:write(string.format("%d\t%d\t%d\t%s\n", sent, bad, out, example))
    f:close()
end

-- Each thread's state.
local headers = {}

function init(args)
    sent, bad, ran_out, bad_example = 0, 0, 0, ""
    if bench.auth then
        headers["Authorization"] = wrk.headers["Authorization"]
    end
    if bench.type then
        headers["Content-Type"] = bench.type
    end
    for name, value in pairs(bench.headers or {}) do
        headers[name] = value
    end
end

local function exhausted()
    return bench.walk and first + STRIDE * sent > total
end

function request()
    local i
    if bench.walk then
        i = first + STRIDE * sent
        if i > total then
            -- Another connection's turn came before the thread stopped:
            -- send something harmless that the stopping loop will not read.
            ran_out = 1
            wrk.thread:stop()
            return wrk.format("GET", "/healthz", {})
        end
    else
        i = (first - 1 + STRIDE * sent) % total + 1
    end
    sent = sent + 1
    local item = items[i]
    headers["Cookie"] = item.cookie and ("attune_link=" .. item.cookie) or nil
    local body = bench.body
    if bench.form then
        body = "csrf=" .. item.csrf .. "&" .. bench.form
    end
    return wrk.format(bench.method, item.path, headers, body)
end

function response(status, response_headers, body)
    local ok = status == bench.status
    local location = response_headers["location"] or response_headers["Location"]
    if ok and bench.location then
        ok = location ~= nil and location:sub(1, #bench.location) == bench.location
    end
    if not ok then
        bad = bad + 1
        if bad_example == "" then
            bad_example = tostring(status) .. (location and (" -> " .. location) or "")
        end
    end
    if exhausted() then
        ran_out = 1
        wrk.thread:stop()
    end
end
