# shellcheck shell=bash
# Shared by install.sh and uninstall.sh (sourced after they set DRY_RUN and DESTDIR).

usage() { sed -n '2,/^set -E/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }
say() { printf '%s\n' "$*"; }
die() { printf '%s: %s\n' "${0##*/}" "$*" >&2; exit 1; }
# RUNNING: the command run() was given, so a failure names it rather than "$@".
trap 'die "failed at line $LINENO: ${RUNNING:-$BASH_COMMAND}"' ERR

# Run a command, or only show it with --dry-run.
run() {
    say "+ $*"
    local RUNNING="$*"
    if [ "$DRY_RUN" = 0 ]; then "$@"; fi
}

require_root() {
    if [ "$DRY_RUN" = 0 ] && [ -z "$DESTDIR" ] && [ "$(id -u)" != 0 ]; then
        die "run as root (sudo $0), or try --dry-run"
    fi
}
