#!/usr/bin/env bash
# Remove pose-appliance: stop and disable the service, remove the unit, the sysusers file, what install.sh put
# in PREFIX ($PREFIX/venv, $PREFIX/constraints.txt; PREFIX itself only when that left it empty), the
# /usr/local/bin/pose-appliance link and the fetched models. /etc/pose-appliance (the owner's config) and the
# owner's drop-ins (/etc/systemd/system/pose-appliance.service.d, from `systemctl edit`) are kept unless --purge;
# --purge also removes /var/lib/pose-appliance (models, recordings) and the pose-appliance account and group.
#
#   sudo deploy/uninstall.sh [--purge] [--dry-run]
#
# Environment: PREFIX and DESTDIR as for install.sh.
set -Eeuo pipefail

SERVICE=pose-appliance
PREFIX=${PREFIX:-/opt/pose-appliance}
DESTDIR=${DESTDIR:-}
DRY_RUN=0
PURGE=0

# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

while [ $# -gt 0 ]; do
    case $1 in
        --dry-run) DRY_RUN=1 ;;
        --purge) PURGE=1 ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
    shift
done
require_root

remove() {
    local path
    for path in "$@"; do
        if [ -e "$path" ] || [ -L "$path" ]; then run rm -rf -- "$path"; fi
    done
}

UNIT=$DESTDIR/etc/systemd/system/$SERVICE.service
if [ -n "$DESTDIR" ]; then
    run systemctl --root="$DESTDIR" disable "$SERVICE.service" || true
else
    run systemctl disable --now "$SERVICE.service" || true  # not installed or already stopped: fine
fi
LINK=$DESTDIR/usr/local/bin/$SERVICE
if [ -L "$LINK" ] && [ "$(readlink "$LINK")" = "$PREFIX/venv/bin/$SERVICE" ]; then
    remove "$LINK"
fi
# Only what install.sh wrote under PREFIX: it may be a shared folder such as /usr/local.
remove "$UNIT" "$DESTDIR/etc/sysusers.d/$SERVICE.conf" "$DESTDIR$PREFIX/venv" \
    "$DESTDIR$PREFIX/constraints.txt" "$DESTDIR/var/cache/$SERVICE" "$DESTDIR/var/lib/$SERVICE/models"
if [ -d "$DESTDIR$PREFIX" ] && [ -z "$(ls -A -- "$DESTDIR$PREFIX")" ]; then
    run rmdir -- "$DESTDIR$PREFIX"
fi
if [ "$PURGE" = 1 ]; then
    remove "$DESTDIR/etc/$SERVICE" "$DESTDIR/var/lib/$SERVICE" "$UNIT.d"
    # The account and its group (userdel keeps a group that is not the user's private one, as sysusers makes it).
    if [ -n "$DESTDIR" ]; then
        if grep -q "^$SERVICE:" "$DESTDIR/etc/passwd" 2>/dev/null; then
            run userdel --root "$DESTDIR" "$SERVICE"
        fi
        if grep -q "^$SERVICE:" "$DESTDIR/etc/group" 2>/dev/null; then
            run groupdel --root "$DESTDIR" "$SERVICE"
        fi
    else
        if getent passwd "$SERVICE" >/dev/null; then
            run userdel "$SERVICE"
        fi
        if getent group "$SERVICE" >/dev/null; then
            run groupdel "$SERVICE"
        fi
    fi
else
    kept="$DESTDIR/etc/$SERVICE (config), $DESTDIR/var/lib/$SERVICE"
    if [ -d "$UNIT.d" ]; then kept+=", $UNIT.d (your systemctl edit drop-ins)"; fi
    say "kept $kept and the $SERVICE account; --purge removes them"
fi
if [ -z "$DESTDIR" ]; then
    run systemctl daemon-reload
fi
