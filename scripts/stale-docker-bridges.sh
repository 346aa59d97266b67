#!/usr/bin/env bash
# Remove what an earlier engine left in the kernel and the running one does not know: bridges
# named br-<network id> of networks it has no record of, and iptables rules naming a br-* device
# that no longer exists. Run by prepare-machine.sh once the engine answers; idempotent.
#
# Why: the engine's state (its networks) and the kernel's (bridges, NAT rules) can part, e.g. an
# engine killed mid-removal or a second engine that ran on this kernel with other state. A left
# bridge keeps its subnet's address and its MASQUERADE rule (-s SUBNET ! -o br-OLD). The engine
# does not see it and hands the same subnet to a new network, and with
# net.bridge.bridge-nf-call-iptables=1 (the cluster's) that rule also rewrites frames bridged
# within the new network: a container's connection to its neighbour leaves with the host's
# address and is never answered (a lab's client waiting on `web` until its time limit).
set -euo pipefail

# Devices first, networks second: a network made in between is in the second list.
devices=$(ip -o link show type bridge | awk -F': ' '{print $2}' | grep -E '^br-[0-9a-f]{12}$' || true)
known=$(docker network ls --no-trunc -q)
for device in $devices; do
  if ! grep -q "^${device#br-}" <<<"$known"; then
    ip link delete "$device" && echo "removed a bridge no engine network owns: $device"
  fi
done

for table in nat filter; do
  { iptables -t "$table" -S | grep -E -- '^-A .*br-[0-9a-f]{12}' || true; } | while read -r rule; do
    for device in $(grep -oE 'br-[0-9a-f]{12}' <<<"$rule" | sort -u); do
      if ! ip link show "$device" >/dev/null 2>&1; then
        # Docker's own rules carry no quoted parts, so the -S line splits back into arguments.
        read -r -a args <<<"${rule/#-A/-D}"
        iptables -t "$table" "${args[@]}" && echo "removed a $table rule for a gone bridge: $rule"
        break
      fi
    done
  done
done
