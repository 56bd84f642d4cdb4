#!/usr/bin/env bash
# One set-up for people and CI: system libraries, a virtual environment, the pinned
# requirements and the project itself (editable). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
# torchcodec (datasets' audio decoding) needs FFmpeg's shared libraries.
if ! ldconfig -p 2>/dev/null | grep -q "libavcodec.so"; then need_apt+=(ffmpeg); fi
# The audit page test drives Debian's Chromium (browser downloads fail on these machines).
if [[ "${AUDIOSETMIX_WITH_BROWSER:-0}" == "1" ]] && ! command -v chromium >/dev/null; then
  need_apt+=(chromium chromium-driver)
fi
if ((${#need_apt[@]})); then
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  echo "installing system packages: ${need_apt[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${need_apt[@]}" >/dev/null
fi

# Run a command quietly; show its output only if it fails.
quiet() {
  local log; log=$(mktemp)
  if ! "$@" >"$log" 2>&1; then cat "$log"; rm -f "$log"; return 1; fi
  rm -f "$log"
}

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3
if [[ ! -x .venv/bin/python ]]; then
  "$PYTHON" -m venv .venv
fi
echo "installing requirements.txt and the project (editable) into .venv ..."
quiet .venv/bin/python -m pip install -r requirements.txt
quiet .venv/bin/python -m pip install --no-deps -e .
echo "set-up done: $(.venv/bin/python --version), project installed in .venv"
