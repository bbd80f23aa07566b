#!/usr/bin/env bash
# One entry point for a fresh Debian 12 machine (run as root):
#   bash scripts/setup.sh demo   -> install what is missing, start the TUI on the demo cloud
#   bash scripts/setup.sh test   -> install what is missing, run the whole test suite
#   bash scripts/setup.sh install -> only install
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
MODE=${1:-demo}
shift || true

APT_PKGS=(libvirt-dev pkg-config libvirt-daemon-system libvirt-daemon-driver-qemu
          qemu-system-x86 qemu-utils libvirt-clients openssh-server openssh-client
          dnsmasq-base iproute2 tmux postgresql)

need=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing system packages: ${need[*]} (run as root or install them)" >&2
    exit 1
  fi
  echo "setup: installing system packages: ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  mkdir -p .setup-logs
  if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}"; } \
      > .setup-logs/apt.log 2>&1; then
    tail -30 .setup-logs/apt.log >&2
    echo "setup: apt-get failed (full log: .setup-logs/apt.log)" >&2
    exit 1
  fi
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv" >&2
  "$PY" -m venv .venv
fi
STAMP=.venv/.virtstack-installed
if [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ]; then
  echo "setup: installing the project into .venv" >&2
  .venv/bin/pip install -q --upgrade pip >&2
  .venv/bin/pip install -q -e '.[test]' >&2
  touch "$STAMP"
fi
# Bytecode for our own packages: an editable install compiles none of them, and where
# PYTHONDONTWRITEBYTECODE is set Python never writes it, so every start would compile
# them from source again (~13 modules on the TUI's path, ~40 ms). Up-to-date files are skipped.
.venv/bin/python -m compileall -q backend tui screens themes >/dev/null

case "$MODE" in
  install) echo "setup: done" >&2 ;;
  demo) exec .venv/bin/virtstack --demo "$@" ;;
  test) exec .venv/bin/python -m pytest "$@" ;;
  *) echo "usage: $0 demo|test|install" >&2; exit 2 ;;
esac
