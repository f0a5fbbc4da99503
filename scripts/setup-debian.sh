#!/usr/bin/env bash
# Installs what tun-driver's build, demo and tests need on a fresh Debian
# machine (run as root). Idempotent: apt runs only when something is missing.
# Node.js >= 20 with npm must already be there (Debian 12's nodejs is 18).
#   --bench  also the benchmarks' other peer: socat (wireguard-go and wg are the
#            WireGuard interop tests' peer, always installed)
#            (bench:relay builds the seed's Go program itself on first use)
# podman, runc and busybox-static: podman calling the CNI plugin on lab nodes
# (test/integration/podman.test.ts).
# qemu-user-static runs the linux-arm64 build (test/integration/arm64.test.ts) with an arm64
# Node.js fetched from the npm registry.
set -euo pipefail
tools="/usr/lib/cni/bridge:containernetworking-plugins ip:iproute2 ping:iputils-ping traceroute:traceroute iperf3:iperf3 tcpdump:tcpdump setpriv:util-linux nft:nftables iptables:iptables chromium:chromium etcd:etcd-server etcdctl:etcd-client g++:g++ aarch64-linux-gnu-g++:g++-aarch64-linux-gnu make:make python3:python3 wireguard-go:wireguard-go wg:wireguard-tools wg-quick:wireguard-tools openssl:openssl qemu-aarch64-static:qemu-user-static podman:podman runc:runc"
[ "${1:-}" = "--bench" ] && tools="$tools socat:socat"
need=()
for pair in $tools; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair##*:}")
done
# The podman test's image is a static busybox (Debian's plain busybox is dynamic).
dpkg -s busybox-static >/dev/null 2>&1 || need+=(busybox-static)
if [ ${#need[@]} -gt 0 ]; then
  echo "setup-debian: installing ${need[*]}"
  apt-get update -qq
  # etcd-server would start a host-wide etcd on 127.0.0.1:2379: the project
  # only ever runs etcd inside lab namespaces, so forbid service starts
  # during the install (unless the machine already has a policy of its own).
  guard=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && guard=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  [ -n "$guard" ] && rm -f /usr/sbin/policy-rc.d
fi
node -e 'const [major] = process.versions.node.split(".").map(Number); if (major < 20) { console.error(`setup-debian: Node.js ${process.version} is too old: tun-driver needs Node.js 20 or newer`); process.exit(1); }'
[ -c /dev/net/tun ] || { echo "setup-debian: /dev/net/tun is missing: run 'modprobe tun'" >&2; exit 1; }
echo "setup-debian: ready"
