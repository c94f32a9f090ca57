# shellcheck shell=bash
# Local stand-ins for the base images scripts/check-container needs when no
# image registry is reachable: debian:bookworm-slim (debootstrap, slimmed the
# way the official image is), rust:1.95-bookworm (the stand-in above plus
# build packages and the host's Rust toolchain) and postgres:15 (the stand-in
# plus Debian's postgresql-15). Each is built only when the daemon lacks an
# image of that name. Needs: `docker` (a function or binary), CONTAINER_LIB
# (this folder), CONTAINER_TMP (scratch space on the data-root's disk) and
# run_logged (common.sh).

# The Debian archive and security archive apt on this machine uses.
debian_mirrors() {
    local files=()
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] && files+=("$f")
    done
    if [ "${#files[@]}" -gt 0 ]; then
        awk -f "$CONTAINER_LIB/debian-mirror.awk" "${files[@]}"
    fi
}

debian_mirror_for() {
    local suite="$1" fallback="$2" found
    found="$(debian_mirrors | awk -v s="$suite" '$2 == s { print $1; exit }')"
    echo "${found:-$fallback}"
}

image_present() {
    docker image inspect "$1" >/dev/null 2>&1
}

# debian:bookworm-slim from `debootstrap --variant=minbase`, then what the
# official slim image (debuerreotype) does: dpkg path-excludes for docs, man
# pages, locales; apt settings for containers; no apt lists, caches or logs.
build_debian_standin() {
    local name="$1"
    local mirror security rootfs
    mirror="$(debian_mirror_for bookworm http://deb.debian.org/debian)"
    security="$(debian_mirror_for bookworm-security http://deb.debian.org/debian-security)"
    rootfs="$CONTAINER_TMP/debian-rootfs"
    rm -rf "$rootfs"
    mkdir -p "$rootfs"
    echo "building stand-in $name: debootstrap --variant=minbase bookworm from $mirror"
    if ! run_logged "$CONTAINER_TMP/debootstrap.log" debootstrap --variant=minbase \
        --keyring=/usr/share/keyrings/debian-archive-keyring.gpg bookworm "$rootfs" "$mirror"; then
        tail -n 30 "$CONTAINER_TMP/debootstrap.log" >&2
        echo "debootstrap of bookworm from $mirror failed (log above)" >&2
        return 1
    fi

    # dpkg: keep docs (but copyright files), man pages, info, locales out.
    cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
# This is the "slim" variant of the Debian base image (local stand-in).
path-exclude /usr/share/doc/*
# keep copyright files for legal reasons
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
EOF
    echo 'force-unsafe-io' >"$rootfs/etc/dpkg/dpkg.cfg.d/docker-apt-speedup"
    find "$rootfs/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
    find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
    rm -rf "$rootfs"/usr/share/{groff,info,linda,lintian,locale,man}/*

    # apt: no package caches, no translations, gzipped indexes, suggests may go.
    cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
    echo 'Acquire::Languages "none";' >"$rootfs/etc/apt/apt.conf.d/docker-no-languages"
    printf '%s\n' 'Acquire::GzipIndexes "true";' 'Acquire::CompressionTypes::Order:: "gz";' \
        >"$rootfs/etc/apt/apt.conf.d/docker-gzip-indexes"
    echo 'Apt::AutoRemove::SuggestsImportant "false";' >"$rootfs/etc/apt/apt.conf.d/docker-autoremove-suggests"
    # Services never start during `apt-get install` in a build.
    printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
    chmod 755 "$rootfs/usr/sbin/policy-rc.d"

    # Sources as the official image has them (deb822), from this machine's mirrors.
    rm -f "$rootfs/etc/apt/sources.list"
    cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF

    # Nothing of this host and no state of the bootstrap itself.
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin \
        "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/debconf/*-old \
        "$rootfs"/var/lib/dpkg/*-old "$rootfs"/tmp/* "$rootfs"/var/tmp/* "$rootfs"/root/.bash_history
    mkdir -p "$rootfs/var/lib/apt/lists/partial"
    find "$rootfs/var/log" -type f -delete
    : >"$rootfs/etc/machine-id"
    rm -f "$rootfs/etc/resolv.conf" "$rootfs/etc/hostname"
    printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$rootfs/etc/hosts"

    tar --numeric-owner --xattrs -C "$rootfs" -cf "$CONTAINER_TMP/debian-rootfs.tar" .
    rm -rf "$rootfs"
    run_logged "$CONTAINER_TMP/import.log" docker import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["bash"]' \
        --message "local stand-in for $name (debootstrap minbase, slimmed)" \
        "$CONTAINER_TMP/debian-rootfs.tar" "$name" || {
        cat "$CONTAINER_TMP/import.log" >&2
        echo "docker import of the bootstrapped root file system failed" >&2
        return 1
    }
    rm -f "$CONTAINER_TMP/debian-rootfs.tar"
}

# rust:<version>-bookworm: the debian stand-in, the build packages of the
# official image's base (buildpack-deps; like it, no cmake), this machine's
# proxy CA certificates, and the host's active Rust toolchain laid out as the
# official image has it (RUSTUP_HOME=/usr/local/rustup, CARGO_HOME=/usr/local/cargo).
build_rust_standin() {
    local name="$1" want_version="$2"
    local sysroot version toolchain rustup_bin ctx proxy
    sysroot="$(rustc --print sysroot)" || {
        echo "no host Rust toolchain to copy into the $name stand-in (rustc --print sysroot failed)" >&2
        return 1
    }
    version="$("$sysroot/bin/rustc" -V | awk '{ print $2 }')"
    case "$version" in
    "$want_version" | "$want_version".*) ;;
    *)
        echo "the host's active toolchain is rustc $version, not $want_version: cannot stand in for $name" >&2
        return 1
        ;;
    esac
    rustup_bin="$(readlink -f "$(command -v rustup)")" || {
        echo "rustup not found on the host: cannot stand in for $name" >&2
        return 1
    }
    toolchain="$version-x86_64-unknown-linux-gnu"
    echo "building stand-in $name: debian:bookworm-slim + build packages + host toolchain $toolchain"

    ctx="$CONTAINER_TMP/rust-context"
    rm -rf "$ctx"
    mkdir -p "$ctx/rustup/toolchains" "$ctx/cargo/bin" "$ctx/ca-certificates"
    # Hard links: the context costs no copy; the docs component stays out.
    cp -al "$sysroot" "$ctx/rustup/toolchains/$toolchain" 2>/dev/null ||
        cp -a "$sysroot" "$ctx/rustup/toolchains/$toolchain"
    rm -rf "$ctx/rustup/toolchains/$toolchain/share/doc"
    cat >"$ctx/rustup/settings.toml" <<EOF
version = "12"
default_toolchain = "$toolchain"
profile = "minimal"

[overrides]
EOF
    cp "$rustup_bin" "$ctx/cargo/bin/rustup"
    for proxy in cargo cargo-clippy cargo-fmt clippy-driver rustc rustdoc rustfmt rust-gdb rust-gdbgui rust-lldb; do
        ln -s rustup "$ctx/cargo/bin/$proxy"
    done
    # The TLS proxy's CA certificates of this machine: the stand-in alone trusts them.
    if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
        cp /usr/local/share/ca-certificates/*.crt "$ctx/ca-certificates/"
    fi
    touch "$ctx/ca-certificates/.keep"
    cp "$CONTAINER_LIB/rust.Dockerfile" "$ctx/Dockerfile"
    run_logged "$CONTAINER_TMP/rust-build.log" docker build --build-arg "RUST_VERSION=$version" -t "$name" "$ctx" || {
        tail -n 30 "$CONTAINER_TMP/rust-build.log" >&2
        echo "docker build of the $name stand-in failed (last lines above)" >&2
        return 1
    }
    rm -rf "$ctx"
}

# postgres:15: the debian stand-in plus Debian's postgresql-15 and an
# entrypoint honouring POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB.
build_postgres_standin() {
    local name="$1"
    echo "building stand-in $name: debian:bookworm-slim + postgresql-15"
    run_logged "$CONTAINER_TMP/postgres-build.log" \
        docker build -t "$name" -f "$CONTAINER_LIB/postgres.Dockerfile" "$CONTAINER_LIB" || {
        tail -n 30 "$CONTAINER_TMP/postgres-build.log" >&2
        echo "docker build of the $name stand-in failed (last lines above)" >&2
        return 1
    }
}

# ensure_standin NAME BUILDER [ARGS...]: builds NAME unless the daemon has it.
ensure_standin() {
    local name="$1" builder="$2"
    shift 2
    if image_present "$name"; then
        echo "ok: image $name present (not rebuilt)"
        return 0
    fi
    "$builder" "$name" "$@" || {
        echo "could not build the local stand-in for $name" >&2
        return 1
    }
    image_present "$name" || {
        echo "building the stand-in for $name left no image of that name" >&2
        return 1
    }
    echo "ok: built stand-in $name"
}
