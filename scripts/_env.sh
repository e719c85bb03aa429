# Sourced by scripts/demo and scripts/test: a project venv with the package installed, and the model mirror.
set -Eeuo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${POSE_APPLIANCE_VENV:-$REPO/.venv}"
SHARED="${POSE_APPLIANCE_SHARED:-$REPO/../shared}"

ensure_venv() {  # ensure_venv EXTRAS
    local extras="$1" stamp
    stamp="$VENV/.installed-$(cat "$REPO/pyproject.toml" | sha256sum | cut -c1-16)-${extras//,/_}"
    if [ ! -x "$VENV/bin/python" ]; then
        python3 -m venv "$VENV"
        "$VENV/bin/pip" install --quiet --upgrade pip
    fi
    if [ ! -e "$stamp" ]; then
        "$VENV/bin/pip" install --quiet -e "$REPO${extras:+[$extras]}"
        touch "$stamp"
    fi
}

mirror_args() {  # the local mirror of the official downloads, when ../shared is beside the repo
    if [ -d "$SHARED/models" ]; then
        printf -- '--mirror\n%s\n--mirror\n%s\n' "$SHARED/models" "$SHARED/data"
    fi
}
