#!/usr/bin/env bash
# Installs the pinned native LocalStack (requirements.lock) plus our plugin into <root>/.lsk/venv.
# Idempotent: a second run with nothing changed returns at once (a stamp records what was installed).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
venv="${LSK_VENV:-$root/.lsk/venv}"
lock="$here/requirements.lock"
plugin="$here/plugin"
stamp="$venv/.lsk-installed"

python="${PYTHON:-python3}"
if ! command -v "$python" >/dev/null 2>&1; then
  echo "error: $python was not found on PATH. Install Python 3.11 with pip and venv (Debian: apt-get install python3 python3-venv python3-pip) and retry." >&2
  exit 3
fi
if ! "$python" -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] < (3, 12) else 1)' 2>/dev/null; then
  found="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || echo unknown)"
  echo "error: native LocalStack needs Python 3.11 (localstack-core 4.9.2 is pinned for it); $python is $found." >&2
  echo "       Point PYTHON=/path/to/python3.11 at a 3.11 interpreter, or use the docker backend (lsk --backend docker)." >&2
  exit 3
fi

# The plugin is installed as a copy (plux's setuptools hook breaks editable installs), so its
# sources are part of what decides whether to reinstall.
want="$( (cat "$lock" "$plugin/pyproject.toml" "$plugin"/lsk_localstack/*.py; "$python" --version) | sha256sum | cut -d' ' -f1)"
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi

log="$(dirname "$venv")/install.log"
mkdir -p "$(dirname "$venv")"
fail() {
  echo "error: $1 failed; last lines of $log:" >&2
  tail -n 25 "$log" >&2
  exit 4
}
rm -f "$stamp"
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv" || {
    echo "error: '$python -m venv' failed. On Debian install python3-venv and retry." >&2
    exit 3
  }
fi
pip=("$venv/bin/python" -m pip install --disable-pip-version-check --no-input --progress-bar off --no-deps)
if ! "$venv/bin/python" -c 'import importlib.metadata as m; m.version("localstack-core")' 2>/dev/null \
   || [ ! -f "$venv/.lsk-lock" ] || ! cmp -s "$lock" "$venv/.lsk-lock"; then
  echo "==> installing pinned LocalStack 4.9.2 + awscli into $venv (first run only; about 2 minutes)" >&2
  # --require-hashes + --no-deps: exactly the locked set, nothing resolved at install time.
  "${pip[@]}" --require-hashes -r "$lock" >"$log" 2>&1 || fail "pip install -r $lock"
  cp "$lock" "$venv/.lsk-lock"
fi
echo "==> installing the lsk LocalStack plugin (process executor, loopback server)" >&2
"${pip[@]}" --no-build-isolation --no-index --force-reinstall "$plugin" >>"$log" 2>&1 || fail "pip install $plugin"
rm -rf "$plugin/build" "$plugin"/*.egg-info
"$venv/bin/python" -c 'import localstack, lsk_localstack' >>"$log" 2>&1 || fail "importing localstack"
echo "$want" >"$stamp"
echo "==> native LocalStack installed ($("$venv/bin/python" -c 'import importlib.metadata as m; print("localstack-core", m.version("localstack-core"))'))" >&2
