# shellcheck shell=bash
# Makes sure the Rust tools the scripts use are present.

ensure_rust_tools() {
    if ! command -v cargo >/dev/null 2>&1; then
        echo "cargo is not installed: this project needs a Rust toolchain (rustup)" >&2
        exit 1
    fi
    for component in rustfmt clippy; do
        if ! rustup component list --installed 2>/dev/null | grep -q "^$component"; then
            rustup component add "$component"
        fi
    done
}
