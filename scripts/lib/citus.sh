# shellcheck shell=bash
# A local, throwaway Citus cluster for tests and benchmarks: a coordinator and
# workers, each a PostgreSQL server of ours (scripts/lib/postgres.sh) on
# loopback with the Citus extension loaded, their data directories side by
# side in one directory DIR (DIR/node0 is the coordinator, DIR/node1... the
# workers). No package registry these machines reach ships Citus, so it is
# built from source once and the build is kept outside the repository.
# Source this file, then: citus_start DIR DBNAME / citus_add_worker DIR /
# citus_stop DIR. scripts/citus wraps it as a command.

# shellcheck source=scripts/lib/postgres.sh
source "$(dirname "${BASH_SOURCE[0]}")/postgres.sh"

# The repository this file belongs to: the vendored source is looked for
# next to it (../shared/vendor), whatever the caller's directory is.
CITUS_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# The file in DIR that remembers the cluster: its database and, a line per
# node, "NAME ROLE PORT". It outlives citus_stop, so a stopped cluster comes
# back on the same ports (the coordinator's metadata names the workers by port).
CITUS_STATE_FILE=citus-cluster

# citus_source: prints where the Citus source is (a .tar.gz or an unpacked
# directory) and returns 0; or prints one line saying why there is none and
# returns 1. Looks at $CITUS_SOURCE, then <repo>/../shared/vendor, then
# /work/shared/vendor (CI runs in a clean clone somewhere else, where there
# may be no ../shared). A CITUS_SOURCE that does not exist is an error rather
# than a reason to look elsewhere: whoever set it meant that one.
citus_source() {
    if [ -n "${CITUS_SOURCE:-}" ]; then
        if [ -e "$CITUS_SOURCE" ]; then
            echo "$CITUS_SOURCE"
            return 0
        fi
        echo "Citus source not found: CITUS_SOURCE=$CITUS_SOURCE does not exist"
        return 1
    fi
    local vendor found
    for vendor in "$CITUS_REPO/../shared/vendor" /work/shared/vendor; do
        # The newest version when there are several.
        found="$(printf '%s\n' "$vendor"/citus-*.tar.gz | sort -V | tail -n 1)"
        if [ -f "$found" ]; then
            realpath "$found"
            return 0
        fi
    done
    echo "Citus source not found: set CITUS_SOURCE or provide ../shared/vendor/citus-13.2.2.tar.gz"
    return 1
}

# _citus_source_version SOURCE: the Citus version of a source tarball or
# directory (13.2.2), from the tarball's name or else from its configure script.
_citus_source_version() {
    local src="$1" name configure
    name="$(basename "$src")"
    if [ -f "$src" ] && [[ "$name" =~ ^citus-([0-9][0-9.]*[0-9])\.tar\.gz$ ]]; then
        echo "${BASH_REMATCH[1]}"
        return 0
    fi
    if [ -d "$src" ]; then
        configure="$(cat "$src/configure" 2>/dev/null)"
    else
        configure="$(tar -xzOf "$src" --wildcards '*/configure' 2>/dev/null)"
    fi
    local version
    version="$(printf '%s\n' "$configure" | sed -n "s/^PACKAGE_VERSION='\(.*\)'$/\1/p" | head -n 1)"
    if [ -z "$version" ]; then
        echo "cannot tell the Citus version of $src (no PACKAGE_VERSION in its configure)" >&2
        return 1
    fi
    echo "$version"
}

# The pg_config of the server we run (Debian's client package ships one per
# major version), not whichever /usr/bin/pg_config points at.
_citus_pg_config() {
    if [ -x "$PG_BIN/pg_config" ]; then
        echo "$PG_BIN/pg_config"
    else
        command -v pg_config
    fi
}

# The server's full version (15.18): the build cache is per server version.
_citus_pg_version() {
    "$PG_BIN/postgres" --version | awk '{print $3}'
}

# _citus_installed: prints the path of citus.so and returns 0 when Citus is
# installed for the server in $PG_BIN (both the library and the extension's
# control file, so CREATE EXTENSION works), else returns 1.
_citus_installed() {
    [ -n "$PG_BIN" ] && [ -x "$PG_BIN/postgres" ] || return 1
    local pg_config libdir sharedir
    pg_config="$(_citus_pg_config)" || return 1
    libdir="$("$pg_config" --pkglibdir 2>/dev/null)" || libdir="$PG_BIN/../lib"
    sharedir="$("$pg_config" --sharedir 2>/dev/null)" || return 1
    [ -f "$sharedir/extension/citus.control" ] || return 1
    local so
    for so in "$PG_BIN/../lib/citus.so" "$libdir/citus.so"; do
        if [ -f "$so" ]; then
            realpath "$so"
            return 0
        fi
    done
    return 1
}

# The extension version (13.2-1) that CREATE EXTENSION citus would install.
_citus_installed_version() {
    local sharedir
    sharedir="$("$(_citus_pg_config)" --sharedir)"
    sed -n "s/^default_version = '\(.*\)'$/\1/p" "$sharedir/extension/citus.control"
}

# citus_available: returns 0 and prints nothing when Citus can be used here
# (installed already, or a source to build it from and root to install it);
# else prints one plain line saying why and returns 1, for a caller that skips
# its Citus checks with that line as the reason.
citus_available() {
    if _citus_installed >/dev/null; then
        return 0
    fi
    local src
    if ! src="$(citus_source)"; then
        echo "$src"
        return 1
    fi
    if [ "$(id -u)" != 0 ]; then
        echo "Citus is not installed for this PostgreSQL and installing it from $src needs root (apt-get, make install)"
        return 1
    fi
    return 0
}

# _citus_build_deps LOG: installs the Debian packages the build needs
# (vendor/README.md). The server headers are taken at the running server's
# own version when Debian still has it: an extension built against newer
# headers than the server it loads into may use what that server lacks.
_citus_build_deps() {
    local log="$1" major missing=() package pinned=""
    major="$(_citus_pg_version)"
    major="${major%%.*}"
    for package in "postgresql-server-dev-$major" liblz4-dev libzstd-dev libkrb5-dev libselinux1-dev \
        libxslt1-dev libpam0g-dev libreadline-dev gcc make; do
        if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$package")
        fi
    done
    [ "${#missing[@]}" -gt 0 ] || return 0
    echo "installing Citus's build dependencies from Debian's packages: ${missing[*]}" >&2
    if ! apt-get update -qq >>"$log" 2>&1; then
        echo "apt-get update failed; the end of $log:" >&2
        tail -n 20 "$log" >&2
        return 1
    fi
    local server_package_version
    server_package_version="$(dpkg-query -W -f='${Version}' "postgresql-$major" 2>/dev/null || true)"
    if [ -n "$server_package_version" ] \
        && apt-cache madison "postgresql-server-dev-$major" | grep -qF "| $server_package_version |"; then
        pinned="=$server_package_version"
    fi
    local i
    for i in "${!missing[@]}"; do
        if [ "${missing[$i]}" = "postgresql-server-dev-$major" ]; then
            missing[i]="postgresql-server-dev-$major$pinned"
        fi
    done
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >>"$log" 2>&1; then
        echo "installing ${missing[*]} failed; the end of $log:" >&2
        tail -n 20 "$log" >&2
        return 1
    fi
}

# _citus_fix_createdb_privilege TREE: Citus 13.2.2 defines its own static
# inline have_createdb_privilege() for PostgreSQL < 17, but newer minor
# releases (15.20) export a function of that name from their headers, and C
# rejects "static declaration follows non-static declaration". Renaming
# Citus's copy with a #define just before its definition lets it build and
# changes nothing else. Applied only when the server headers declare the
# function, and only once.
_citus_fix_createdb_privilege() {
    local header="$1/src/include/pg_version_compat.h" includedir line
    [ -f "$header" ] || return 0
    grep -q 'citus_have_createdb_privilege' "$header" && return 0
    line="$(grep -n '^have_createdb_privilege(void)' "$header" | head -n 1 | cut -d: -f1)"
    [ -n "$line" ] || return 0
    includedir="$("$(_citus_pg_config)" --includedir-server)"
    grep -rqw 'have_createdb_privilege' "$includedir" || return 0
    # The definition starts on the line above the name: `static inline bool`.
    if ! sed -n "$((line - 1))p" "$header" | grep -q '^static inline'; then
        echo "cannot apply the have_createdb_privilege fix: $header is not laid out as expected" >&2
        return 1
    fi
    sed -i "$((line - 1))i #define have_createdb_privilege citus_have_createdb_privilege" "$header"
    echo "renamed Citus's own have_createdb_privilege (this PostgreSQL's headers declare one)" >&2
}

# citus_install: makes Citus usable by the server in $PG_BIN. Uses an
# installed Citus as it is (a distribution package or an earlier install);
# else builds the source (citus_source) once, under
# ${XDG_CACHE_HOME:-~/.cache}/attune/citus/VERSION-pgSERVERVERSION, and
# installs from that tree; a later install (a fresh clone, a reinstalled
# postgres package) only runs `make install` there. Delete that directory to
# force a rebuild. Prints progress on stderr, nothing on stdout.
citus_install() {
    pg_ensure_installed || return 1
    local so
    if so="$(_citus_installed)"; then
        echo "Citus $(_citus_installed_version) is already installed for PostgreSQL $(_citus_pg_version) ($so); using it" >&2
        return 0
    fi
    if [ "$(id -u)" != 0 ]; then
        echo "Citus is not installed for PostgreSQL $(_citus_pg_version) and installing it needs root" >&2
        return 1
    fi
    local src version cache
    if ! src="$(citus_source)"; then
        echo "$src" >&2
        return 1
    fi
    version="$(_citus_source_version "$src")" || return 1
    cache="${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/attune/citus/$version-pg$(_citus_pg_version)"
    mkdir -p "$cache" || return 1
    # One build at a time per cache directory (parallel CI jobs on one machine).
    (
        flock 9
        _citus_install_locked "$src" "$version" "$cache"
    ) 9>"$cache/lock"
}

# Left to itself, Citus's build also compiles every file with clang into LLVM
# bitcode, used only by the server's JIT to inline Citus's own functions into
# compiled queries. The clusters here do not need that (without the bitcode
# the JIT simply does not inline them), so the build skips it.
CITUS_MAKE_ARGS=(with_llvm=no)

_citus_install_locked() {
    local src="$1" version="$2" cache="$3"
    local tree="$cache/src" log="$cache/build.log"
    # Another process may have installed it while we waited for the lock.
    _citus_installed >/dev/null && return 0
    if [ -f "$cache/built" ]; then
        echo "installing Citus $version from the build kept in $cache" >&2
        if ! make -C "$tree" install "${CITUS_MAKE_ARGS[@]}" >"$cache/install.log" 2>&1; then
            echo "make install of Citus failed; the end of $cache/install.log:" >&2
            tail -n 30 "$cache/install.log" >&2
            return 1
        fi
    else
        local started="$SECONDS"
        : >"$log"
        _citus_build_deps "$log" || return 1
        echo "building Citus $version for PostgreSQL $(_citus_pg_version) in $tree (a few minutes; log: $log)" >&2
        rm -rf "$tree"
        mkdir -p "$tree"
        if [ -d "$src" ]; then
            cp -a "$src/." "$tree/" || return 1
        else
            tar -xzf "$src" -C "$tree" --strip-components=1 || return 1
        fi
        _citus_fix_createdb_privilege "$tree" || return 1
        # --without-libcurl: no anonymous usage statistics from a test cluster.
        if ! (cd "$tree" \
            && PG_CONFIG="$(_citus_pg_config)" ./configure --without-libcurl \
            && make -j2 "${CITUS_MAKE_ARGS[@]}" \
            && make install "${CITUS_MAKE_ARGS[@]}") >>"$log" 2>&1; then
            echo "building Citus failed; the end of $log:" >&2
            tail -n 30 "$log" >&2
            return 1
        fi
        touch "$cache/built"
        echo "built and installed Citus $version in $((SECONDS - started))s" >&2
    fi
    if ! _citus_installed >/dev/null; then
        echo "make install ran but Citus is still not installed for the server in $PG_BIN" >&2
        return 1
    fi
}

# _citus_psql PORT DB SQL: runs SQL on a node as postgres, over TCP, quietly
# (no notices such as "extension already exists"); prints bare results.
_citus_psql() {
    PGOPTIONS="-c client_min_messages=warning" \
        "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -tA -h 127.0.0.1 -p "$1" -U postgres -d "$2" -c "$3"
}

# _citus_nodes DIR: the cluster's nodes, a line each: NAME ROLE PORT.
_citus_nodes() {
    awk '$2 == "coordinator" || $2 == "worker"' "$1/$CITUS_STATE_FILE"
}

_citus_database() {
    awk '$1 == "database" {print $2}' "$1/$CITUS_STATE_FILE"
}

_citus_coordinator_port() {
    awk '$2 == "coordinator" {print $3}' "$1/$CITUS_STATE_FILE"
}

_citus_running() {
    pg_as_owner "$PG_BIN/pg_ctl" -D "$1" status >/dev/null 2>&1
}

# _citus_dir DIR: DIR as an absolute path (pg_as_owner runs from /), after
# checking that a cluster can live there.
_citus_dir() {
    local dir
    dir="$(realpath -m "$1")"
    # PostgreSQL puts each node's socket in its data directory (pg_start's
    # -k), and a socket's path has to fit in 107 bytes.
    local socket="$dir/node99/.s.PGSQL.65535"
    if [ "${#socket}" -gt 107 ]; then
        echo "$dir is too long a path for a Citus cluster (a node's socket lives in it); use a shorter one, e.g. mktemp -d /tmp/citus.XXXXXX" >&2
        return 1
    fi
    echo "$dir"
}

# _citus_prepare_dir DIR: creates DIR for the node directories. As root, the
# nodes run as `postgres`, which must be able to enter DIR (pg_start opens
# DIR itself; everything above it must already be enterable, as for
# pg_data_dir: we do not loosen the permissions of someone's home).
_citus_prepare_dir() {
    local dir="$1"
    mkdir -p "$dir" || return 1
    if [ "$(id -u)" = 0 ]; then
        chmod o+x "$dir"
        if ! (cd / && runuser -u postgres -- test -x "$dir"); then
            # Name the directory in the way, so the caller can decide.
            local blocked="" above="$dir"
            while [ "$above" != / ]; do
                above="$(dirname "$above")"
                (cd / && runuser -u postgres -- test -x "$above") || blocked="$above"
            done
            echo "the postgres user cannot enter $dir: ${blocked:-a parent directory} is private (chmod o+x it if it is a temp dir of yours, or use a DIR like \$(mktemp -d /tmp/citus.XXXXXX))" >&2
            return 1
        fi
    fi
}

# _citus_node_start DIR NAME PORT: initialises DIR/NAME (once) and starts it
# on 127.0.0.1:PORT through pg_start. Citus's settings go into the node's
# postgresql.conf rather than onto pg_ctl's command line, so a node started
# by hand (pg_ctl start) is still a Citus node.
_citus_node_start() {
    local node="$1/$2" port="$3"
    mkdir -p "$node" || return 1
    if [ "$(id -u)" = 0 ]; then
        chown postgres:postgres "$node" || return 1
    fi
    chmod 700 "$node"
    if [ ! -f "$node/PG_VERSION" ]; then
        # Without durability (PG_FSYNC unset or off), initdb need not sync either.
        local no_sync=()
        [ "${PG_FSYNC:-off}" = off ] && no_sync=(--no-sync)
        pg_as_owner "$PG_BIN/initdb" -D "$node" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 "${no_sync[@]}" >/dev/null \
            || return 1
        # shared_preload_libraries: Citus hooks the planner and executor and
        #   runs a maintenance daemon, so it must be loaded at server start.
        # citus.node_conninfo: by default the nodes talk TLS to each other
        #   (sslmode=require), and CREATE EXTENSION then turns ssl on with a
        #   self-signed certificate, so every client (psql, pgbench) would
        #   talk TLS to the coordinator too. On loopback that measures
        #   encryption, not distribution, and the single-node servers of
        #   postgres.sh run without TLS; so plain connections, as there.
        # wal_level = logical: a shard moves to a new worker while it is
        #   written to by logical replication, holding writes only for the
        #   final switch (the rebalance under load of check-citus).
        # max_prepared_transactions is not set: Citus commits across nodes
        #   with two-phase commit, and raises it from the default 0 to twice
        #   max_connections by itself when it is left unset.
        cat >>"$node/postgresql.conf" <<'EOF'

# Added by scripts/lib/citus.sh: a node of a local Citus cluster.
shared_preload_libraries = 'citus'
citus.node_conninfo = 'sslmode=disable'
wal_level = logical
EOF
    fi
    # A throwaway cluster needs no durability; PG_FSYNC=on asks for it.
    if ! PG_FSYNC="${PG_FSYNC:-off}" pg_start "$node" "$port"; then
        echo "Citus node $2 did not start on port $port; the end of $node/server.log:" >&2
        tail -n 5 "$node/server.log" >&2
        return 1
    fi
}

# _citus_node_database PORT DB: creates DB with the citus extension on a node.
# Citus metadata is per database and CREATE DATABASE is not propagated, so
# every node needs both before the coordinator can use it.
_citus_node_database() {
    local port="$1" db="$2"
    if [ "$(_citus_psql "$port" postgres "SELECT 1 FROM pg_database WHERE datname = '$db'")" != 1 ]; then
        _citus_psql "$port" postgres "CREATE DATABASE $db" || return 1
    fi
    _citus_psql "$port" "$db" "CREATE EXTENSION IF NOT EXISTS citus" || return 1
}

# _citus_new_node DIR NAME ROLE: starts a new node on a free port and
# records it. Nodes are started one after another so that free_port cannot
# hand the same port out twice.
_citus_new_node() {
    local dir="$1" name="$2" role="$3" port
    port="$(free_port)" || return 1
    _citus_node_start "$dir" "$name" "$port" || return 1
    echo "$name $role $port" >>"$dir/$CITUS_STATE_FILE"
}

# citus_start DIR DBNAME: starts a coordinator and two workers under DIR
# (DIR/node0, DIR/node1, DIR/node2), each on a free port on 127.0.0.1,
# creates DBNAME with the citus extension on each and registers the workers
# with the coordinator; prints the coordinator's URL,
# postgres://postgres@127.0.0.1:PORT/DBNAME, on stdout. On a DIR that holds a
# stopped cluster it starts that cluster again on its recorded ports (the
# coordinator knows its workers by port); on a running one it only prints
# the URL. Builds and installs Citus first if needed (citus_install). If
# anything fails, the nodes are stopped again (unless the cluster was running
# before the call).
citus_start() {
    local dir db="${2:-attune}"
    if [ -z "${1:-}" ]; then
        echo "usage: citus_start DIR [DBNAME]" >&2
        return 1
    fi
    if ! [[ "$db" =~ ^[a-z_][a-z0-9_]{0,62}$ ]]; then
        echo "database name '$db' is not a plain lower-case SQL identifier" >&2
        return 1
    fi
    dir="$(_citus_dir "$1")" || return 1
    if [ -f "$dir/$CITUS_STATE_FILE" ]; then
        local recorded
        recorded="$(_citus_database "$dir")"
        if [ "$recorded" != "$db" ]; then
            echo "$dir holds a Citus cluster for database '$recorded', not '$db'" >&2
            return 1
        fi
    fi
    citus_install || return 1
    _citus_prepare_dir "$dir" || return 1
    # A cluster that was already running is not ours to stop on failure.
    local was_running=""
    _citus_running "$dir/node0" && was_running=yes
    if ! _citus_start_nodes "$dir" "$db"; then
        [ -n "$was_running" ] || citus_stop "$dir"
        return 1
    fi
    citus_coordinator_url "$dir"
}

_citus_start_nodes() {
    local dir="$1" db="$2" name role port
    if [ -f "$dir/$CITUS_STATE_FILE" ]; then
        while read -r name role port; do
            _citus_node_start "$dir" "$name" "$port" || return 1
        done < <(_citus_nodes "$dir")
    else
        echo "database $db" >"$dir/$CITUS_STATE_FILE"
        _citus_new_node "$dir" node0 coordinator || return 1
        _citus_new_node "$dir" node1 worker || return 1
        _citus_new_node "$dir" node2 worker || return 1
    fi
    while read -r name role port; do
        _citus_node_database "$port" "$db" || return 1
    done < <(_citus_nodes "$dir")
    local coordinator
    coordinator="$(_citus_coordinator_port "$dir")"
    # Both calls leave a node that is already registered as it is.
    _citus_psql "$coordinator" "$db" "SELECT citus_set_coordinator_host('127.0.0.1', $coordinator)" >/dev/null || return 1
    while read -r name role port; do
        if [ "$role" = worker ]; then
            _citus_psql "$coordinator" "$db" "SELECT citus_add_node('127.0.0.1', $port)" >/dev/null || return 1
        fi
    done < <(_citus_nodes "$dir")
}

# citus_add_worker DIR: starts one more worker under DIR (DIR/nodeN), creates
# the database with the citus extension on it and registers it with the
# running coordinator; prints its port on stdout. Moving shards onto it is
# the caller's business (rebalance_table_shards). If anything fails, the new
# node is stopped and dropped from DIR's list (its directory stays, for its
# log).
citus_add_worker() {
    local dir
    if [ -z "${1:-}" ]; then
        echo "usage: citus_add_worker DIR" >&2
        return 1
    fi
    dir="$(_citus_dir "$1")" || return 1
    if [ ! -f "$dir/$CITUS_STATE_FILE" ]; then
        echo "no Citus cluster in $dir (start one with citus_start)" >&2
        return 1
    fi
    if ! _citus_running "$dir/node0"; then
        echo "the Citus coordinator in $dir/node0 is not running (start the cluster first)" >&2
        return 1
    fi
    citus_install || return 1
    # The next free node number: after the highest directory there is, even
    # one a failed attempt left behind.
    local n=0 node
    for node in "$dir"/node*; do
        [ -d "$node" ] || continue
        node="${node##*/node}"
        [[ "$node" =~ ^[0-9]+$ ]] && [ "$node" -ge "$n" ] && n=$((node + 1))
    done
    local name="node$n" db coordinator port
    db="$(_citus_database "$dir")"
    coordinator="$(_citus_coordinator_port "$dir")"
    if _citus_new_node "$dir" "$name" worker \
        && port="$(awk -v n="$name" '$1 == n {print $3}' "$dir/$CITUS_STATE_FILE")" \
        && _citus_node_database "$port" "$db" \
        && _citus_psql "$coordinator" "$db" "SELECT citus_add_node('127.0.0.1', $port)" >/dev/null; then
        echo "$port"
        return 0
    fi
    echo "adding worker $name failed; it is stopped and left in $dir/$name" >&2
    pg_stop "$dir/$name"
    local state="$dir/$CITUS_STATE_FILE"
    awk -v n="$name" '$1 != n' "$state" >"$state.tmp" && mv "$state.tmp" "$state"
    return 1
}

# citus_stop DIR: stops every node under DIR, the coordinator first (so it
# does not go on connecting to workers that are going away). Stops node
# directories whether or not they were recorded, so a start that failed half
# way leaves nothing running. Keeps the data and the recorded ports.
citus_stop() {
    local dir node
    if [ -z "${1:-}" ]; then
        echo "usage: citus_stop DIR" >&2
        return 1
    fi
    dir="$(realpath -m "$1")"
    [ -f "$dir/node0/PG_VERSION" ] && pg_stop "$dir/node0"
    for node in "$dir"/node*; do
        [ "$node" != "$dir/node0" ] && [ -f "$node/PG_VERSION" ] && pg_stop "$node"
    done
    return 0
}

# citus_coordinator_url DIR: prints postgres://postgres@127.0.0.1:PORT/DBNAME
# for the coordinator of the cluster recorded in DIR.
citus_coordinator_url() {
    local dir
    dir="$(realpath -m "$1")"
    if [ ! -f "$dir/$CITUS_STATE_FILE" ]; then
        echo "no Citus cluster in $dir" >&2
        return 1
    fi
    echo "postgres://postgres@127.0.0.1:$(_citus_coordinator_port "$dir")/$(_citus_database "$dir")"
}

# citus_status DIR: prints a line per node (name, role, port, running or
# stopped) and, when the coordinator runs, the workers it considers active.
# Returns 0 when every node runs, else 1.
citus_status() {
    local dir name role port state all=0
    dir="$(realpath -m "$1")"
    if [ ! -f "$dir/$CITUS_STATE_FILE" ]; then
        echo "no Citus cluster in $dir" >&2
        return 1
    fi
    echo "database $(_citus_database "$dir")"
    while read -r name role port; do
        if _citus_running "$dir/$name"; then
            state=running
        else
            state=stopped
            all=1
        fi
        printf '%-6s %-11s port %-5s %s\n' "$name" "$role" "$port" "$state"
    done < <(_citus_nodes "$dir")
    if _citus_running "$dir/node0"; then
        local active
        active="$(_citus_psql "$(_citus_coordinator_port "$dir")" "$(_citus_database "$dir")" \
            "SELECT string_agg(node_name || ':' || node_port, ' ' ORDER BY node_port) FROM citus_get_active_worker_nodes()")" || all=1
        echo "active workers: ${active:-none}"
    fi
    return "$all"
}
