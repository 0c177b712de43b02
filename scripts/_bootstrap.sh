# Sourced by scripts/demo and scripts/test: a Python 3.11+ virtualenv in .venv
# with the project installed (and the extras named in $1), set up on first use
# and refreshed when pyproject.toml changes.
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

apt_install() {
  command -v apt-get >/dev/null || return 1
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null &&
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null
}

find_python() {
  for candidate in "${PYTHON:-}" python3 python3.13 python3.12 python3.11; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null &&
      "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$candidate"
      return 0
    fi
  done
  echo "Community Hub needs Python 3.11 or newer (set PYTHON=/path/to/python3.11)" >&2
  return 1
}

# The project and the extras in $1, at the versions requirements.lock pins (regenerate it
# after changing dependencies: scripts/lock). uv installs several times faster than pip;
# pip does the same job where uv cannot be had.
install_project() {
  local -a specs=(-e ".${1:+[$1]}")
  # The demo extra (and test, which includes it) names the tools, a distribution of their
  # own in tools/: installed from this checkout, editable, in the same resolution.
  case ",${1:-}," in *,demo,* | *,test,*) specs+=(-e ./tools) ;; esac
  if .venv/bin/python -m pip install -q uv &&
    .venv/bin/python -m uv pip install --python .venv/bin/python -q -c requirements.lock "${specs[@]}"; then
    return 0
  fi
  echo "(uv did not work here; installing with pip)"
  .venv/bin/python -m pip install -q --upgrade pip &&
    .venv/bin/python -m pip install -q -c requirements.lock "${specs[@]}"
}

bootstrap() {
  local extras="${1:-}" py stamp want
  py=$(find_python)
  if [ ! -x .venv/bin/python ]; then
    echo "==> creating .venv with $py"
    if ! "$py" -m venv .venv 2>/dev/null; then
      rm -rf .venv
      echo "==> installing python3-venv" && apt_install python3-venv && "$py" -m venv .venv
    fi
  fi
  stamp=.venv/.community-hub-installed
  want="$(cat pyproject.toml tools/pyproject.toml requirements.lock | sha256sum | cut -c1-16) extras=${extras}"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "==> installing Community Hub${extras:+ with [$extras]} into .venv"
    # The installers' chatter goes to a log; it is shown only if the install fails.
    if ! install_project "$extras" >.venv/install.log 2>&1; then
      cat .venv/install.log >&2
      echo "installing Community Hub failed (log above, also in .venv/install.log)" >&2
      return 1
    fi
    echo "$want" >"$stamp"
  fi
}
