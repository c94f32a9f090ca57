# shellcheck shell=bash
# A private Docker engine for scripts/check-container: dockerd started by us,
# as root, on its own socket, exec-root and pidfile, with a data-root that is
# kept between runs (the image cache). Before it starts we record what it
# changes on the host (net.ipv4.ip_forward, the bridge netfilter sysctls, the
# iptables rules and FORWARD policy, the docker0 bridge); dockerd_stop puts
# them back. Source this file, then: dockerd_start DATA_ROOT RUN_DIR /
# dockerd_stop. It exports DOCKER_HOST.

DOCKERD_PID=""
DOCKERD_RUN=""
DOCKERD_DATA=""
DOCKERD_HOST_STATE=""

_sysctl_files=(
    /proc/sys/net/ipv4/ip_forward
    /proc/sys/net/bridge/bridge-nf-call-iptables
    /proc/sys/net/bridge/bridge-nf-call-ip6tables
)

_forward_policy() {
    local rules
    rules="$(iptables -S FORWARD 2>/dev/null)" || return 1
    awk '$1 == "-P" { print $3 }' <<<"$rules"
}

# Records the host state dockerd is going to change, into $DOCKERD_RUN/host.
dockerd_record_host() {
    local f
    DOCKERD_HOST_STATE="$DOCKERD_RUN/host"
    mkdir -p "$DOCKERD_HOST_STATE"
    : >"$DOCKERD_HOST_STATE/sysctl"
    for f in "${_sysctl_files[@]}"; do
        if [ -f "$f" ]; then
            echo "$f $(cat "$f")" >>"$DOCKERD_HOST_STATE/sysctl"
        fi
    done
    # (iptables-nft notes on stderr when legacy tables exist too; only errors matter.)
    iptables-save >"$DOCKERD_HOST_STATE/iptables" 2>"$DOCKERD_HOST_STATE/iptables.err" || {
        cat "$DOCKERD_HOST_STATE/iptables.err" >&2
        echo "iptables-save failed: cannot record the firewall dockerd will change" >&2
        return 1
    }
    _forward_policy >"$DOCKERD_HOST_STATE/forward-policy" || {
        echo "iptables -S FORWARD failed: cannot record the FORWARD policy" >&2
        return 1
    }
    ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' >"$DOCKERD_HOST_STATE/links"
    echo "recorded host state: ip_forward=$(cat /proc/sys/net/ipv4/ip_forward)," \
        "FORWARD policy $(cat "$DOCKERD_HOST_STATE/forward-policy")"
}

dockerd_restore_host() {
    local state="$DOCKERD_HOST_STATE" f value table link policy
    [ -n "$state" ] && [ -d "$state" ] || return 0
    # The firewall: tables as they were; tables dockerd created, emptied.
    if [ -s "$state/iptables" ]; then
        iptables-restore <"$state/iptables" 2>/dev/null || echo "warning: iptables-restore failed" >&2
    fi
    for table in filter nat; do
        if ! grep -q "^\*$table\$" "$state/iptables"; then
            iptables -t "$table" -F 2>/dev/null || true
            iptables -t "$table" -X 2>/dev/null || true
        fi
    done
    policy="$(cat "$state/forward-policy" 2>/dev/null || true)"
    if [ -n "$policy" ]; then
        iptables -P FORWARD "$policy" 2>/dev/null || echo "warning: could not reset the FORWARD policy to $policy" >&2
    fi
    # Bridges dockerd made (docker0, br-*) that were not there before.
    for link in $(ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }'); do
        case "$link" in
        docker0 | br-*)
            if ! grep -qx "$link" "$state/links"; then
                ip link delete "$link" 2>/dev/null || true
            fi
            ;;
        esac
    done
    while read -r f value; do
        [ -n "$f" ] || continue
        if [ "$(cat "$f" 2>/dev/null)" != "$value" ]; then
            echo "$value" >"$f" || echo "warning: could not restore $f to $value" >&2
        fi
    done <"$state/sysctl"
    echo "restored host state: ip_forward=$(cat /proc/sys/net/ipv4/ip_forward)," \
        "FORWARD policy $(_forward_policy)"
    DOCKERD_HOST_STATE=""
}

# dockerd_start DATA_ROOT RUN_DIR
dockerd_start() {
    DOCKERD_DATA="$1"
    DOCKERD_RUN="$2"
    mkdir -p "$DOCKERD_DATA" "$DOCKERD_RUN/exec"
    # A daemon of an earlier, killed run still holding the data-root would
    # make ours hang on its databases: say so instead.
    local p cmd
    for p in /proc/[0-9]*; do
        cmd="$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null)" || continue
        case "$cmd" in
        *dockerd*"--data-root=$DOCKERD_DATA "*)
            echo "dockerd pid ${p#/proc/} (an earlier run's?) still uses $DOCKERD_DATA: $cmd" >&2
            echo "stop it first (kill ${p#/proc/}) or set ATTUNE_CACHE_DIR elsewhere" >&2
            return 1
            ;;
        esac
    done
    dockerd_record_host
    export DOCKER_HOST="unix://$DOCKERD_RUN/docker.sock"
    # fd 9 is the caller's lock on the data-root: a left-over daemon must not hold it.
    dockerd --storage-driver=overlay2 \
        --data-root="$DOCKERD_DATA" \
        --exec-root="$DOCKERD_RUN/exec" \
        --pidfile="$DOCKERD_RUN/dockerd.pid" \
        -H "$DOCKER_HOST" \
        --iptables=true \
        >"$DOCKERD_RUN/dockerd.log" 2>&1 9>&- &
    DOCKERD_PID=$!
    local deadline=$((SECONDS + 60))
    until docker version >/dev/null 2>&1; do
        if ! kill -0 "$DOCKERD_PID" 2>/dev/null; then
            tail -n 30 "$DOCKERD_RUN/dockerd.log" >&2
            echo "dockerd exited during start-up (log above: $DOCKERD_RUN/dockerd.log)" >&2
            DOCKERD_PID=""
            return 1
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            tail -n 30 "$DOCKERD_RUN/dockerd.log" >&2
            echo "dockerd did not answer on $DOCKER_HOST within 60 s" >&2
            return 1
        fi
        sleep 0.5
    done
    local driver
    driver="$(docker info -f '{{.Driver}}')"
    if [ "$driver" != overlay2 ]; then
        echo "dockerd runs storage driver $driver, not overlay2" >&2
        return 1
    fi
    echo "ok: dockerd $(docker version -f '{{.Server.Version}}') (pid $DOCKERD_PID) on $DOCKER_HOST, data-root $DOCKERD_DATA"
}

# Processes started for our daemon (containerd, shims) that outlived it: found
# by our exec-root in their command line, ended by PID.
_dockerd_leftovers() {
    local p cmd
    for p in /proc/[0-9]*; do
        cmd="$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null)" || continue
        case "$cmd" in
        *"$DOCKERD_RUN/exec"*) echo "${p#/proc/}" ;;
        esac
    done
}

dockerd_stop() {
    local pid deadline mnt
    if [ -n "$DOCKERD_PID" ] && kill -0 "$DOCKERD_PID" 2>/dev/null; then
        kill -TERM "$DOCKERD_PID" 2>/dev/null || true
        deadline=$((SECONDS + 30))
        while kill -0 "$DOCKERD_PID" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
            sleep 0.5
        done
        if kill -0 "$DOCKERD_PID" 2>/dev/null; then
            echo "dockerd (pid $DOCKERD_PID) ignored SIGTERM for 30 s: killing it" >&2
            kill -KILL "$DOCKERD_PID" 2>/dev/null || true
        fi
        wait "$DOCKERD_PID" 2>/dev/null || true
        echo "stopped dockerd (pid $DOCKERD_PID)"
    fi
    DOCKERD_PID=""
    if [ -n "$DOCKERD_RUN" ]; then
        for pid in $(_dockerd_leftovers); do
            echo "ending left-over process $pid: $(tr '\0' ' ' </proc/"$pid"/cmdline 2>/dev/null | cut -c1-120)" >&2
            kill -TERM "$pid" 2>/dev/null || true
        done
        sleep 1
        for pid in $(_dockerd_leftovers); do
            kill -KILL "$pid" 2>/dev/null || true
        done
        # Mounts under our exec-root or data-root that dockerd left (deepest first).
        awk -v a="$DOCKERD_RUN/" -v b="$DOCKERD_DATA/" \
            'index($2, a) == 1 || index($2, b) == 1 { print $2 }' /proc/self/mounts | sort -r |
            while read -r mnt; do
                umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true
            done
    fi
    dockerd_restore_host
}
