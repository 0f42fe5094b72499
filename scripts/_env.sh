# Sourced by the other scripts: make sure .venv exists with the project and its pinned
# development tools installed (reinstalled when pyproject.toml or the example plugin changes).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
VENV="$ROOT/.venv"
shopt -s nullglob
stamp_input() { cat pyproject.toml examples/*/pyproject.toml | sha256sum | cut -d' ' -f1; }
if [ ! -x "$VENV/bin/python" ]; then
  echo "setting up $VENV ..." >&2
  "$PY" -m venv "$VENV"
fi
if [ "$(cat "$VENV/.imagebridge-stamp" 2>/dev/null)" != "$(stamp_input)" ]; then
  echo "installing imagebridge and its development tools into .venv ..." >&2
  # pip's notes about optional local package folders are noise here.
  export PIP_DISABLE_PIP_VERSION_CHECK=1
  "$VENV/bin/python" -m pip install --quiet --upgrade "pip>=24" 2>&1 | grep -v "^WARNING: Location" >&2 || true
  "$VENV/bin/python" -m pip install --quiet -e ".[dev]" 2>&1 | grep -v "^WARNING: Location" >&2 || true
  "$VENV/bin/python" -c "import imagebridge, click, pytest" || { echo "installing failed" >&2; exit 1; }
  for plugin in examples/*/pyproject.toml; do
    if [ -f "$plugin" ]; then
      "$VENV/bin/python" -m pip install --quiet -e "$(dirname "$plugin")" >&2
    fi
  done
  stamp_input > "$VENV/.imagebridge-stamp"
fi
export PATH="$VENV/bin:$PATH"
