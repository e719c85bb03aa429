# Sourced by scripts/demo and scripts/test: a project venv with the package installed, and the model mirror.
set -Eeuo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${POSE_APPLIANCE_VENV:-$REPO/.venv}"
SHARED="${POSE_APPLIANCE_SHARED:-$REPO/../shared}"

# A line per step; on a terminal apt and pip also show their own progress, otherwise they stay quiet.
step() { printf '%s: %s\n' "${0##*/}" "$*"; }
# shellcheck disable=SC2034  # APT_QUIET is for scripts/test
if [ -t 1 ]; then
    APT_QUIET=(); PIP_QUIET=(--progress-bar on)
else
    APT_QUIET=(-qq); PIP_QUIET=(--quiet)
fi

retry_once() {  # a download that failed (most often a transient network error) is tried once more
    "$@" || { step "failed: $*; retrying once in 10 s"; sleep 10; "$@"; }
}

ensure_venv() {  # ensure_venv EXTRAS
    local extras="$1" stamp
    stamp="$VENV/.installed-$(cat "$REPO/pyproject.toml" | sha256sum | cut -c1-16)-${extras//,/_}"
    if [ ! -x "$VENV/bin/python" ]; then
        step "creating the venv $VENV"
        python3 -m venv "$VENV"
        retry_once "$VENV/bin/pip" install "${PIP_QUIET[@]}" --upgrade pip
    fi
    if [ ! -e "$stamp" ]; then
        step "installing the package and its dependencies${extras:+ ($extras)} into $VENV (pip; a few minutes the first time)"
        retry_once "$VENV/bin/pip" install "${PIP_QUIET[@]}" -e "$REPO${extras:+[$extras]}"
        touch "$stamp"
    fi
}

mirror_args() {  # the local mirror of the official downloads, when ../shared is beside the repo
    if [ -d "$SHARED/models" ]; then
        printf -- '--mirror\n%s\n--mirror\n%s\n' "$SHARED/models" "$SHARED/data"
    fi
}
