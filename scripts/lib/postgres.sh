# shellcheck shell=bash
# A project-local PostgreSQL: started in a directory of ours, on loopback, as
# the `postgres` user when we are root (PostgreSQL refuses to run as root).
# Source this file, then: pg_start DIR PORT  /  pg_stop DIR.

PG_BIN="${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}"

pg_as_owner() {
    if [ "$(id -u)" = 0 ]; then
        # From /, since the caller's directory may be out of postgres's reach.
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

pg_ensure_installed() {
    if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ]; then
        echo "PostgreSQL server binaries not found; installing postgresql from Debian's packages" >&2
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
        PG_BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
    fi
}

# pg_data_dir PREFERRED: PREFERRED when the server's owner can reach it,
# else a directory of its own under /var/lib/attune, named after PREFERRED
# (as root, a clone under a private home such as /root is out of the
# `postgres` user's reach, and we do not loosen the permissions of someone's
# home to fix that).
pg_data_dir() {
    local preferred="$1"
    pg_ensure_installed
    if [ "$(id -u)" != 0 ]; then
        echo "$preferred"
        return
    fi
    # pg_start opens the data directory's own parent (ours); everything
    # above it must already be enterable.
    local above
    above="$(dirname "$(dirname "$preferred")")"
    if (cd / && runuser -u postgres -- test -x "$above") 2>/dev/null; then
        echo "$preferred"
    else
        local name
        name="$(printf '%s' "$preferred" | sha256sum | cut -c1-16)"
        mkdir -p /var/lib/attune
        chmod 755 /var/lib/attune
        echo "/var/lib/attune/$name/postgres"
    fi
}

# pg_start DIR PORT: initialise DIR (once) and start a server on 127.0.0.1:PORT.
# As root, every parent of DIR must be enterable by `postgres` (see pg_data_dir).
pg_start() {
    local dir="$1" port="$2"
    pg_ensure_installed
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then
        chown postgres:postgres "$dir"
        # The directory that holds DIR is the caller's own (a temp dir, .data/).
        chmod o+x "$(dirname "$dir")" 2>/dev/null || true
        if ! (cd / && runuser -u postgres -- test -x "$dir"); then
            echo "the postgres user cannot enter $dir (a parent directory is private); use pg_data_dir" >&2
            return 1
        fi
    fi
    chmod 700 "$dir"
    if [ ! -f "$dir/PG_VERSION" ]; then
        pg_as_owner "$PG_BIN/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    fi
    if pg_as_owner "$PG_BIN/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
        return 0
    fi
    # max_wal_size: at PostgreSQL's default (1 GB) a service auditing every
    # read checkpoints every ~35 s under load, and the full-page images
    # after each checkpoint doubled the p99 of audited reads while they
    # lasted; at 4 GB checkpoints come from the 5-minute timeout instead.
    pg_as_owner "$PG_BIN/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 start \
        -o "-p $port -c listen_addresses=127.0.0.1 -k $dir -c max_connections=300 -c fsync=${PG_FSYNC:-on} -c max_wal_size=4GB" >/dev/null
}

pg_stop() {
    local dir="$1"
    pg_as_owner "$PG_BIN/pg_ctl" -D "$dir" -m fast -w stop >/dev/null 2>&1 || true
}

# A free TCP port on loopback.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
