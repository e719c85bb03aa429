#!/usr/bin/env bash
# Install pose-appliance as a systemd service on Raspberry Pi OS (64-bit) Bookworm or Trixie (or Debian 12/13).
# Idempotent: running it again updates the code and the unit, restarts the service, and never touches an
# existing config. The command is linked as /usr/local/bin/pose-appliance. A 32-bit OS is refused (neither
# TFLite runtime has a wheel for it).
#
#   sudo deploy/install.sh [--with-coral] [--mirror DIR] [--dry-run]
#
# Environment: PREFIX (default /opt/pose-appliance; the venv goes to $PREFIX/venv; letters, digits and
# / . _ - + only), DESTDIR (stage the files under this root instead of /: nothing outside it is touched, no apt
# package is installed, the unit is enabled with systemctl --root, nothing is started; as root the account is
# created there with systemd-sysusers --root, otherwise the target's systemd-sysusers creates it at boot from
# etc/sysusers.d). DESTDIR is for tests and for inspecting what an install writes, not for building an image:
# the venv's commands name $DESTDIR$PREFIX/venv/bin/python in their first line, which does not exist once the
# staged tree is booted as /. To install a Pi, run this script on the Pi.
#
# --with-coral  also install the Coral Edge TPU runtime (libedgetpu1-std). It comes from Coral's own apt
#               repository, which this flag adds (/etc/apt/sources.list.d/coral-edgetpu.list and its key).
# --mirror DIR  fetch the models from this folder instead of their official URLs (passed to models fetch;
#               may be given more than once).
# --dry-run     print what would be done and change nothing.
set -Eeuo pipefail

SERVICE=pose-appliance
PREFIX=${PREFIX:-/opt/pose-appliance}
DESTDIR=${DESTDIR:-}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DRY_RUN=0
WITH_CORAL=0
MIRRORS=()

CORAL_LIST=/etc/apt/sources.list.d/coral-edgetpu.list
CORAL_KEYRING=/usr/share/keyrings/coral-edgetpu-archive-keyring.gpg
CORAL_KEY_URL=https://packages.cloud.google.com/apt/doc/apt-key.gpg
# Headless picamera2 (no Qt/OpenGL recommends), DRM preview (kms++), journald logging (python3-systemd).
# OpenCV comes from pip (apt's is older than the package needs); numpy from apt, so picamera2's compiled
# modules and the venv share one numpy (1.x on Bookworm, 2.x on Trixie).
APT_PACKAGES=(python3-venv python3-pip python3-numpy python3-systemd)
APT_PI_PACKAGES=(python3-picamera2 python3-kms++)
declare -A APT_PI_PURPOSE=([python3-picamera2]="the Pi camera (camera.type = picamera2)"
                           [python3-kms++]="the HDMI screen without a desktop (display.type = drm)")
MIN_PYTHON=3.11

# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

while [ $# -gt 0 ]; do
    case $1 in
        --dry-run) DRY_RUN=1 ;;
        --with-coral) WITH_CORAL=1 ;;
        --mirror) [ $# -ge 2 ] || die "--mirror needs a folder"; MIRRORS+=("$2"); shift ;;
        --mirror=*) MIRRORS+=("${1#--mirror=}") ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
    shift
done
for i in "${!MIRRORS[@]}"; do
    [ -d "${MIRRORS[$i]}" ] || die "--mirror ${MIRRORS[$i]}: no such folder"
    MIRRORS[i]=$(cd "${MIRRORS[$i]}" && pwd)
done
# PREFIX goes into the unit's ExecStart= lines (through sed): a space splits the command there, % is a systemd
# specifier, and &, | or \ would break the substitution.
if [[ ! $PREFIX =~ ^/[A-Za-z0-9._+/-]*$ ]]; then
    die "PREFIX=$PREFIX: must be an absolute path of letters, digits and / . _ - + only (it goes into the" \
        "systemd unit), e.g. the default /opt/pose-appliance"
fi
require_root

# What this machine is, before anything is changed: a 32-bit OS or a too old Python is refused here.
check_platform() {
    local arch python codename="" pretty="" systemd_version
    arch=$(dpkg --print-architecture 2>/dev/null || uname -m)
    case $arch in
        arm64|aarch64|amd64|x86_64) ;;
        armhf|armel|armv6l|armv7l|arm)
            die "this is a 32-bit OS ($arch): neither TFLite runtime (ai-edge-litert, tflite-runtime) has a wheel for it." \
                "Install Raspberry Pi OS (64-bit), Bookworm or Trixie (in Raspberry Pi Imager: Raspberry Pi OS (64-bit);" \
                "a Pi 4 or 5 runs it), then run this again" ;;
        *) die "unsupported architecture $arch: the TFLite runtimes have wheels for arm64 (Raspberry Pi OS (64-bit))" \
               "and x86-64 only" ;;
    esac
    if [ -r /etc/os-release ]; then
        # shellcheck disable=SC1091
        codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
        # shellcheck disable=SC1091
        pretty=$(. /etc/os-release && echo "${PRETTY_NAME:-}")
    fi
    python=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null) \
        || die "python3 is missing: sudo apt-get install python3"
    case $codename in
        bookworm|trixie|"") ;;
        buster|bullseye) die "${pretty:-$codename} is too old (Python $python; the appliance needs $MIN_PYTHON or newer):" \
                             "install Raspberry Pi OS (64-bit) Bookworm or Trixie" ;;
        *) say "(${pretty:-$codename} is not one this installer was tested on (Bookworm, Trixie): going on)" ;;
    esac
    if [ "$(printf '%s\n%s\n' "$MIN_PYTHON" "$python" | sort -V | head -n1)" != "$MIN_PYTHON" ]; then
        die "Python $python is too old (the appliance needs $MIN_PYTHON or newer): install Raspberry Pi OS (64-bit)" \
            "Bookworm or Trixie"
    fi
    systemd_version=$(systemctl --version 2>/dev/null | awk 'NR == 1 {print $2}')
    say "== ${pretty:-this system} ($arch): Python $python, systemd ${systemd_version:-?}"
}
check_platform

VENV=$PREFIX/venv
ETC=$DESTDIR/etc/$SERVICE
CONFIG=$ETC/config.toml
MODELS=$DESTDIR/var/lib/$SERVICE/models
UNIT=$DESTDIR/etc/systemd/system/$SERVICE.service
SYSUSERS=$DESTDIR/etc/sysusers.d/$SERVICE.conf
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# Copy a file only when its content differs, so a second run changes nothing (not even mtimes).
install_file() {
    local mode=$1 source=$2 target=$3
    if [ -f "$target" ] && cmp -s "$source" "$target"; then
        say "= $target unchanged"
    else
        run install -D -m "$mode" "$source" "$target"
    fi
}

as_root_on_host() { [ "$(id -u)" = 0 ]; }

step_apt() {
    say "== apt packages"
    if [ -n "$DESTDIR" ]; then
        say "(DESTDIR set: nothing installed on this machine; the target needs ${APT_PACKAGES[*]} ${APT_PI_PACKAGES[*]})"
        return
    fi
    if ! as_root_on_host; then
        say "(not root: skipping apt; needs ${APT_PACKAGES[*]} ${APT_PI_PACKAGES[*]})"
        return
    fi
    run apt-get update
    local packages=("${APT_PACKAGES[@]}") package
    for package in "${APT_PI_PACKAGES[@]}"; do
        if apt-cache show "$package" >/dev/null 2>&1; then
            packages+=("$package")
        else
            say "(no $package in the apt sources: not Raspberry Pi OS? It is for ${APT_PI_PURPOSE[$package]}, which will not work here.)"
        fi
    done
    run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${packages[@]}"
}

step_coral() {
    [ "$WITH_CORAL" = 1 ] || return 0
    say "== Coral Edge TPU runtime (from Coral's apt repository)"
    [ "$DRY_RUN" = 1 ] || as_root_on_host || die "--with-coral needs root (it adds an apt source)"
    printf 'deb [signed-by=%s] https://packages.cloud.google.com/apt coral-edgetpu-stable main\n' \
        "$CORAL_KEYRING" > "$WORK/coral.list"
    install_file 0644 "$WORK/coral.list" "$CORAL_LIST"
    if [ ! -s "$CORAL_KEYRING" ]; then
        say "+ curl -fsSL $CORAL_KEY_URL | gpg --dearmor -o $CORAL_KEYRING"
        if [ "$DRY_RUN" = 0 ]; then
            curl -fsSL "$CORAL_KEY_URL" | gpg --dearmor --yes -o "$CORAL_KEYRING"
        fi
    fi
    run apt-get update
    # libedgetpu must match the TFLite runtime it is loaded into; `pose-appliance doctor` reports a mismatch.
    run env DEBIAN_FRONTEND=noninteractive apt-get install -y libedgetpu1-std
}

step_venv() {
    say "== venv $DESTDIR$VENV"
    # --system-site-packages: picamera2, libcamera, kms++ and systemd come from apt and exist only there.
    if [ -x "$DESTDIR$VENV/bin/python" ]; then
        say "= venv exists"
    else
        run python3 -m venv --system-site-packages "$DESTDIR$VENV"
    fi
    : > "$WORK/constraints.txt"
    if python3 -c 'import numpy, sys; sys.exit(numpy.__version__[0] != "1")' 2>/dev/null; then
        # apt's compiled modules (picamera2's simplejpeg, python3-kms++) are built on numpy 1.x (Bookworm);
        # Trixie's are built on numpy 2 and need no pin.
        say "(apt's numpy is 1.x: the venv keeps it, with an OpenCV built for it)"
        echo "numpy<2" > "$WORK/constraints.txt"
    fi
    install_file 0644 "$WORK/constraints.txt" "$DESTDIR$PREFIX/constraints.txt"
    run "$DESTDIR$VENV/bin/python" -m pip install --disable-pip-version-check --quiet \
        --constraint "$DESTDIR$PREFIX/constraints.txt" "$REPO"
}

step_config() {
    say "== config $CONFIG"
    run install -d -m 0755 "$ETC"
    install_file 0644 "$REPO/pose_appliance/data/config.example.toml" "$ETC/config.toml.example"
    if [ -e "$CONFIG" ]; then
        say "= $CONFIG kept (the new example is $ETC/config.toml.example)"
    else
        run install -m 0644 "$REPO/pose_appliance/data/config.example.toml" "$CONFIG"
    fi
    run "$DESTDIR$VENV/bin/pose-appliance" check-config "$CONFIG"
}

step_models() {
    say "== models $MODELS"
    run install -d -m 0755 "$MODELS"
    local fetch=("$DESTDIR$VENV/bin/pose-appliance" models fetch) mirror
    for mirror in "${MIRRORS[@]}"; do fetch+=(--mirror "$mirror"); done
    # The default set, and what a kept config names besides (model.name = "movenet_thunder_int8", ...).
    run env POSE_APPLIANCE_MODELS="$MODELS" "${fetch[@]}" --config "$CONFIG"
    if [ "$WITH_CORAL" = 1 ]; then
        run env POSE_APPLIANCE_MODELS="$MODELS" "${fetch[@]}" movenet_lightning_int8_edgetpu
    fi
}

step_service() {
    say "== service user and unit"
    install_file 0644 "$REPO/deploy/$SERVICE.sysusers" "$SYSUSERS"
    sed "s|/opt/pose-appliance|$PREFIX|g" "$REPO/deploy/$SERVICE.service" > "$WORK/$SERVICE.service"
    install_file 0644 "$WORK/$SERVICE.service" "$UNIT"
    if [ -n "$DESTDIR" ]; then
        if as_root_on_host; then
            run systemd-sysusers --root="$DESTDIR" "$SERVICE.conf"
        else
            # Not root: the shadow files it would write (mode 0000) could not be read again by a second run.
            say "(not root: the $SERVICE account is created at the target's first boot by systemd-sysusers)"
        fi
        run systemctl --root="$DESTDIR" enable "$SERVICE.service"
        say "(DESTDIR set: not starting the service)"
        return
    fi
    run systemd-sysusers "$SERVICE.conf"
    run systemctl daemon-reload
    run systemctl enable "$SERVICE.service"
    # restart = start the first time, pick up the new code and unit on a reinstall.
    run systemctl restart "$SERVICE.service" || true  # the smoke check below reports a failure
}

# The README and `doctor` use the bare command: a link on the owner's PATH (/usr/local/bin is on every login's).
step_command() {
    local link=$DESTDIR/usr/local/bin/$SERVICE target=$VENV/bin/$SERVICE
    say "== command $link"
    if [ -L "$link" ] && [ "$(readlink "$link")" = "$target" ]; then
        say "= $link unchanged"
    elif [ -e "$link" ] && [ ! -L "$link" ]; then
        say "($link exists and is not a link to $target: left alone; the command is $target)"
    else
        run install -d -m 0755 "$DESTDIR/usr/local/bin"
        run ln -sfn "$target" "$link"
    fi
}

step_smoke() {
    [ -z "$DESTDIR" ] || return 0
    say "== smoke check"
    run systemctl --no-pager --lines=0 status "$SERVICE.service" || true
    run journalctl --no-pager --unit="$SERVICE.service" --lines=15 || true
    [ "$DRY_RUN" = 0 ] || return 0
    if ! systemctl is-active --quiet "$SERVICE.service"; then
        die "$SERVICE is not running; see the log above, and run: $VENV/bin/pose-appliance doctor"
    fi
    say "$SERVICE is running. Config: $CONFIG; check the setup with: pose-appliance doctor"
}

step_apt
step_coral
step_venv
step_config
step_models
step_service
step_command
step_smoke
