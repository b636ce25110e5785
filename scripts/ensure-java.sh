#!/usr/bin/env bash
# Spark needs Java 17 or newer. Use it when present; install it through apt when we are
# root on Debian/Ubuntu; otherwise stop and say how to get it.
set -euo pipefail

java_major() {
  local java="${JAVA_HOME:+$JAVA_HOME/bin/}java"
  command -v "$java" >/dev/null 2>&1 || return 1
  "$java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1
}

major=$(java_major || true)
if [ -n "${major}" ] && [ "${major}" -ge 17 ]; then
  exit 0
fi

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Java 17+ not found (found: ${major:-none}); installing openjdk-17-jre-headless with apt-get." >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null
  exit 0
fi

cat >&2 <<MSG
Spark needs Java 17 or newer, and none was found (java on PATH or in JAVA_HOME: ${major:-none}).
Install it, then run make again:
  Debian/Ubuntu:  sudo apt-get install openjdk-17-jre-headless
  macOS:          brew install openjdk@17
or point JAVA_HOME at an existing JDK 17+.
MSG
exit 1
