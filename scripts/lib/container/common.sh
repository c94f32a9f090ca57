# shellcheck shell=bash
# Helpers shared by scripts/check-container and its libraries.

# run_logged LOG CMD...: runs CMD with its output in LOG, as a child we wait
# for, so that a signal ends the script (and runs its clean-up) at once rather
# than after a long build. CHILD_PID names the running child for the clean-up.
CHILD_PID=""
run_logged() {
    local log="$1" rc=0
    shift
    "$@" >"$log" 2>&1 &
    CHILD_PID=$!
    wait "$CHILD_PID" || rc=$?
    CHILD_PID=""
    return "$rc"
}
