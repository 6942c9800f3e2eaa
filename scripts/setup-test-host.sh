#!/usr/bin/env bash
# Installs the Debian packages that the test suites use (run as root, or with sudo).
# Idempotent: packages already present are not touched. Services that packages
# would start (keepalived) are kept from starting: the tests run their own.
set -euo pipefail
packages=(
  iproute2        # system tests: network namespaces and veth (`ip`)
  openssl         # the agent's self-signed TLS certificate when agent.tls is not set (demo, agent tests)
  keepalived      # system tests: the VRRP peer Palisade must interoperate with
  iputils-arping  # gratuitous ARP after a VRRP takeover
  tcpdump         # system tests: captures on the lab bridge
  python3 make g++  # build the VRRP raw-socket addon (node-gyp) during npm ci
  monitoring-plugins  # monitor: the real Nagios plugins (check_load, check_tcp...) run through the plugin runner in tests
  mariadb-server      # monitor: a real source/replica pair for the mysql_replica check test
  nftables        # firewall: nft -c checks of the generated ruleset, system tests load it in a lab namespace
  procps          # kernel L4 system test: sysctl (ip_forward on the director, ARP settings on the real servers)
  hping3          # firewall system test: crafted stealth-scan flag combinations, spoofed sources, SYN floods
  nmap            # firewall system test: -sN / -sF / -sX scans against a firewalled lab host
  slowhttptest    # slow-client tests: slowloris, slow POST and slow read against the proxy (and nginx)
  nginx-light     # slow-client tests: nginx with its classic limits, attacked the same way for comparison
  redis-server    # limits test: limit_req buckets shared through a real Redis (started by the test on a loopback port)
  chromium        # browser tests: the dashboard driven by playwright-core (executablePath /usr/bin/chromium, headless)
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
  policy=/usr/sbin/policy-rc.d
  made_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod +x "$policy"
    made_policy=1
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
  if [ "$made_policy" = 1 ]; then rm -f "$policy"; fi
fi
echo "setup-test-host: ok (${packages[*]})"
