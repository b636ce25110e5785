#!/usr/bin/env bash
# The monitoring report's test draws the page in headless Chromium. Use `chromium` when it
# is on PATH; otherwise install Debian's chromium package through apt (as root, or through
# sudo); otherwise stop and say how to get it.
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
  exit 0
fi

if [ "$(id -u)" = "0" ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  as_root=(none)
fi

if command -v apt-get >/dev/null 2>&1 && [ "${as_root[0]:-}" != "none" ]; then
  echo "chromium not found; installing Debian's chromium package with apt-get." >&2
  log=$(mktemp)
  # Wait for another apt run (e.g. an install already under way) instead of failing on
  # its lock. Fonts are needed for text in screenshots; nothing else recommended is.
  apt=("${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -qq -o DPkg::Lock::Timeout=600)
  if "${apt[@]}" update >"$log" 2>&1 &&
    "${apt[@]}" install -y --no-install-recommends chromium fonts-liberation >>"$log" 2>&1 &&
    command -v chromium >/dev/null 2>&1; then
    rm -f "$log"
    exit 0
  fi
  echo "Installing chromium with apt-get failed; the end of its output:" >&2
  tail -n 20 "$log" >&2
  rm -f "$log"
fi

cat >&2 <<'MSG'
The monitoring report's test needs Chromium (a `chromium` command on PATH) and could not
install it. Install it, then run make again:
  Debian:         sudo apt-get install chromium
  Ubuntu:         install Chromium or Google Chrome and link it as `chromium` on PATH
  macOS:          brew install --cask chromium, then link its binary as `chromium` on PATH
MSG
exit 1
