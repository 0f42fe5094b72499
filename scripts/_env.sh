# Sourced by the other scripts: make sure .venv exists with the project and its pinned
# development tools installed (reinstalled when pyproject.toml or the example plugin changes).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
VENV="$ROOT/.venv"
stamp_input() { cat pyproject.toml examples/*/pyproject.toml 2>/dev/null | sha256sum | cut -d' ' -f1; }
if [ ! -x "$VENV/bin/python" ]; then
  echo "setting up $VENV ..." >&2
  "$PY" -m venv "$VENV"
fi
if [ "$(cat "$VENV/.imagebridge-stamp" 2>/dev/null)" != "$(stamp_input)" ]; then
  echo "installing imagebridge and its development tools into .venv ..." >&2
  "$VENV/bin/python" -m pip install --quiet --upgrade "pip>=24" >&2
  "$VENV/bin/python" -m pip install --quiet -e ".[dev]" >&2
  for plugin in examples/*/pyproject.toml; do
    [ -f "$plugin" ] && "$VENV/bin/python" -m pip install --quiet -e "$(dirname "$plugin")" >&2
  done
  stamp_input > "$VENV/.imagebridge-stamp"
fi
export PATH="$VENV/bin:$PATH"
