#!/usr/bin/env bash
# Installs the Debian packages that the test suites use (run as root, or with sudo).
# Idempotent: packages already present are not touched.
set -euo pipefail
packages=(
  iproute2   # system tests: network namespaces and veth (`ip`)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup-test-host: installing ${missing[*]} needs root; run: sudo $0" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
echo "setup-test-host: ok (${packages[*]})"
