#!/usr/bin/env bash
# Installs the pinned native LocalStack (requirements.lock) plus our plugin into a venv: LSK_VENV
# if set (lsk sets it to <workspace>/.lsk/venv, as it runs this script from the copy of the kit it
# unpacks into <workspace>/.lsk/kit/ in any workspace but lsk's own), else <root>/.lsk/venv.
# Idempotent: a second run with nothing changed returns at once (a stamp records what was installed).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
venv="${LSK_VENV:-$root/.lsk/venv}"
lock="$here/requirements.lock"
plugin="$here/plugin"
stamp="$venv/.lsk-installed"

# A supported interpreter: PYTHON if set, else the newest of python3.13/3.12/3.11, else python3.
# localstack-core 4.13.1 runs on 3.11 to 3.13 (4.14 and later need 3.12+; 3.14 is not verified).
supported() { "$1" -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] < (3, 14) else 1)' 2>/dev/null; }
version_of() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || echo unknown; }
how_to_get_python() {
  cat >&2 <<'HOW'
       Install Python 3.11, 3.12 or 3.13 with venv and pip, then retry (or point PYTHON= at one):
         Debian/Ubuntu:  apt-get install python3 python3-venv python3-pip
         Fedora:         dnf install python3.13
         macOS:          brew install python@3.13   (the native backend is Linux-only: use docker there)
       Or run LocalStack in Docker instead: lsk up --backend docker
HOW
}
if [ -n "${PYTHON:-}" ]; then
  python="$PYTHON"
  if ! command -v "$python" >/dev/null 2>&1; then
    echo "error: PYTHON=$python was not found." >&2
    how_to_get_python
    exit 3
  fi
  if ! supported "$python"; then
    echo "error: native LocalStack (localstack-core 4.13.1) needs Python 3.11, 3.12 or 3.13; PYTHON=$python is $(version_of "$python")." >&2
    how_to_get_python
    exit 3
  fi
else
  python=""
  seen=""
  for candidate in python3.13 python3.12 python3.11 python3; do
    command -v "$candidate" >/dev/null 2>&1 || continue
    if supported "$candidate"; then python="$candidate"; break; fi
    seen="$seen $candidate ($(version_of "$candidate"))"
  done
  if [ -z "$python" ]; then
    echo "error: native LocalStack (localstack-core 4.13.1) needs Python 3.11, 3.12 or 3.13; found${seen:- no python3 on PATH}." >&2
    how_to_get_python
    exit 3
  fi
fi

# The plugin is installed as a copy (plux's setuptools hook breaks editable installs), so its
# sources, like this script's own steps, are part of what decides whether to reinstall.
want="$( (cat "$0" "$lock" "$plugin/pyproject.toml" "$plugin"/lsk_localstack/*.py; "$python" --version 2>&1) | sha256sum | cut -d' ' -f1)"
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
  echo "==> installing pinned LocalStack 4.13.1 + awscli into $venv (first run only; about 2 minutes)" >&2
  # --require-hashes + --no-deps: exactly the locked set, nothing resolved at install time.
  "${pip[@]}" --require-hashes -r "$lock" >"$log" 2>&1 || fail "pip install -r $lock"
  cp "$lock" "$venv/.lsk-lock"
fi
echo "==> installing the lsk LocalStack plugin (process executor, loopback server)" >&2
"${pip[@]}" --no-build-isolation --no-index --force-reinstall "$plugin" >>"$log" 2>&1 || fail "pip install $plugin"
rm -rf "$plugin/build" "$plugin"/*.egg-info
"$venv/bin/python" -c 'import localstack, lsk_localstack' >>"$log" 2>&1 || fail "importing localstack"
# LocalStack's service catalog index, built once here instead of at each instance's first start
# (which loads every AWS service spec and keeps the memory); lsk links it into each instance.
catalog="$venv/lsk-fs/usr/lib/localstack"
rm -rf "$catalog" && mkdir -p "$catalog"
FILESYSTEM_ROOT="$venv/lsk-fs" OVERRIDE_IN_DOCKER=0 "$venv/bin/python" -m localstack.aws.spec >>"$log" 2>&1 \
  || echo "warning: building LocalStack's service catalog index failed (see $log); each LocalStack builds its own at start" >&2
echo "$want" >"$stamp"
echo "==> native LocalStack installed ($("$venv/bin/python" -c 'import importlib.metadata as m; print("localstack-core", m.version("localstack-core"))'))" >&2
