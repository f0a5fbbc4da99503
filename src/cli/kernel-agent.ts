// `tun-driver overlay` with a kernel backend (vxlan, host-gw): the agent
// only programs the kernel. It takes its subnet from the control plane,
// opens (or adopts) the backend, applies every lease change, writes
// subnet.env and serves status; the kernel carries the packets. On
// SIGINT/SIGTERM the data plane stays (pods keep talking) unless
// --remove-on-exit; `tun-driver overlay-teardown` removes it later.
import { ControlPlane } from '../subnet/control-plane.js';
import { describeSubnets, sameSubnets, type Lease } from '../subnet/leases.js';
import { NetlinkSocket } from '../netlink/socket.js';
import { formatCidr, formatIPv4 } from '../packet/addr.js';
import { formatCidr6, formatIPv6 } from '../packet/addr6.js';
import { writeSubnetEnv } from '../subnet/etcd/subnet-env.js';
import { installIpMasq, ip6MasqScript, ipMasqScript, ipMasqTable, removeIpMasq } from '../overlay/ip-masq.js';
import { sysctlRead } from '../netns/sysctl.js';
import type { Logger } from '../log.js';
import type { Listen } from '../metrics/server.js';
import type { KernelBackendStatus, OverlayStatus } from '../control/daemon-status.js';
import { RateMeter } from '../control/rates.js';
import { AppliedLeases, KernelBackend, KernelBackendType } from '../backend/backend.js';
import { findUnderlay } from '../backend/underlay.js';
import { VxlanBackend } from '../backend/vxlan/vxlan.js';
import { HostGwBackend } from '../backend/host-gw/host-gw.js';
import type { VxlanConfig } from '../subnet/etcd/network-config.js';
import { DaemonHost } from './daemon-host.js';
import type { NodeFacts } from './node-facts.js';
import { daemonMetrics } from './metrics-option.js';

export interface KernelAgentOptions {
  type: KernelBackendType;
  plane: ControlPlane;
  publicIp: number;
  publicIpv6?: Uint8Array;
  /** The vxlan backend's fields (etcd's Backend, or the flags in leases-file mode). */
  vxlan: VxlanConfig;
  subnetFile: string;
  ipMasq: boolean;
  ip6Masq: boolean;
  removeOnExit: boolean;
  log: Logger;
  metricsAt?: Listen;
}

/** Opens the backend: the device made or adopted (vxlan), the underlay found. Throws a usage error (exit 2) when it cannot. */
function openBackend(nl: NetlinkSocket, o: KernelAgentOptions): KernelBackend {
  const underlay = findUnderlay(nl, o.publicIp, o.publicIpv6);
  const { subnet, ipv6 } = o.plane;
  const log = (line: string): void => o.log.info(line);
  if (o.type === 'vxlan') return VxlanBackend.open(nl, { ...o.vxlan, underlay, subnet, subnet6: ipv6?.subnet6, log });
  return new HostGwBackend(nl, { underlay, subnet, subnet6: ipv6?.subnet6, log });
}

export async function runKernelAgent(o: KernelAgentOptions): Promise<void> {
  const { plane, log } = o;
  const { network, subnet, ipv6 } = plane;
  const nl = NetlinkSocket.open();
  let backend: KernelBackend;
  try {
    backend = openBackend(nl, o);
  } catch (err) {
    nl.close();
    await plane.abandon();
    throw err;
  }
  const own = { subnet, subnet6: ipv6?.subnet6 };
  const others = (leases: readonly Lease[]): Lease[] => leases.filter((l) => l.publicIp !== o.publicIp && !sameSubnets(l, own));
  let leaseEvents = 0;
  let skippedTotal = 0;
  const apply = (leases: readonly Lease[], why: string): AppliedLeases => {
    const r = backend.setLeases(others(leases));
    leaseEvents++;
    skippedTotal += r.skipped.length;
    for (const s of r.skipped) log.warn(`skipping the lease of ${s}`, { skipped: s });
    if (r.added || r.removed) log.info(`leases changed (${why}): ${r.added} peer(s) programmed, ${r.removed} removed; ${backend.status().peers.length} in all`, { added: r.added, removed: r.removed, why });
    return r;
  };
  const host = new DaemonHost(backend.name, log, o.metricsAt);
  await host.run(async ({ undo }) => {
    undo.push(() => {
      if (o.removeOnExit) {
        backend.teardown();
        log.info(`--remove-on-exit: removed ${backend.type}'s devices, neighbours, FDB entries and routes`);
      } else {
        backend.close();
      }
      nl.close();
    });
    const tableName = backend.name;
    if (o.ipMasq || o.ip6Masq) {
      const v6 = o.ip6Masq ? ipv6 : undefined;
      installIpMasq(o.ipMasq ? ipMasqScript(tableName, network!, subnet!, v6) : ip6MasqScript(tableName, v6!));
      if (o.ipMasq) undo.push(() => removeIpMasq(tableName, 'ip'));
      if (v6) undo.push(() => removeIpMasq(tableName, 'ip6'));
    }
    apply(plane.leases(), 'start');
    plane.start({
      onChange: (next, why) => apply(next, why),
      onWarning: (message) => log.warn(message),
      onFatal: (err) => host.shutdown.fail(log, `${err.message}; stopping`),
    });
    undo.push(() => plane.close());
    writeSubnetEnv(o.subnetFile, { network, subnet, mtu: backend.podMtu, ipMasq: o.ipMasq, ...(ipv6 ? { network6: ipv6.network6, subnet6: ipv6.subnet6 } : {}) });
    const metrics = daemonMetrics(o.metricsAt, {
      daemon: 'overlay',
      traffic: () => {
        const d = backend.status().devices[0];
        return { tunToNet: { packets: d?.txPackets ?? 0, bytes: d?.txBytes ?? 0 }, netToTun: { packets: d?.rxPackets ?? 0, bytes: d?.rxBytes ?? 0 } };
      },
      drops: () => backend.status().skipped,
      active: () => backend.status().peers.length,
      peers: () => backend.status().peers.map((p) => ({ subnet: p.subnet, txPackets: 0, txBytes: 0, rxPackets: 0, rxBytes: 0 })),
      leaseEvents: () => leaseEvents,
    });
    const ownName = describeSubnets(own);
    // The kernel counts per device: rates are its devices' (the VTEPs'; host-gw's underlay carries everything of the node).
    const rates = new RateMeter();
    const withRates = (): KernelBackendStatus => {
      const k = backend.status();
      for (const d of k.devices) {
        const [txPps = 0, txBps = 0, rxPps = 0, rxBps = 0] = rates.rates.get(d.name) ?? [];
        d.rates = { txPacketsPerSecond: txPps, txBytesPerSecond: txBps, rxPacketsPerSecond: rxPps, rxBytesPerSecond: rxBps };
      }
      return k;
    };
    return {
      sample: () => {
        for (const d of backend.status().devices) rates.sample(d.name, [d.txPackets, d.txBytes, d.rxPackets, d.rxBytes]);
      },
      probeTarget: {},
      metrics,
      status: () => kernelStatus(withRates(), backend.type, plane, { network, subnet, ipv6, publicIp: o.publicIp, publicIpv6: o.publicIpv6, ipMasq: o.ipMasq ? { table: ipMasqTable(tableName), subnetFile: o.subnetFile } : undefined }),
      report: () => {
        const s = backend.status();
        const devices = s.devices.map((d) => `${d.name} rx ${d.rxPackets} tx ${d.txPackets} dropped ${d.rxDropped}/${d.txDropped}`).join('; ');
        return { text: `${s.peers.length} peer(s), ${Object.values(s.skipped).reduce((a, b) => a + b, 0)} lease(s) left out now, ${skippedTotal} skip(s) logged; ${devices}`, fields: { peers: s.peers.length, skipped: s.skipped, devices: s.devices } };
      },
      ready: () => {
        const described = plane.describe();
        log.info(described.summary, { subnet: ownName, ...described.details });
        if (subnet && sysctlRead('net.ipv4.ip_forward') !== '1') log.warn('net.ipv4.ip_forward is 0: this node will not forward between its pods and other nodes (sysctl -w net.ipv4.ip_forward=1)');
        const s = backend.status();
        const devices = s.devices.map((d) => `${d.name} mtu ${d.mtu}${d.mac ? ` ${d.mac}` : ''}`).join(', ');
        const vx = s.vni !== undefined ? ` vni ${s.vni} port ${s.port}${o.vxlan.directRouting ? ' direct-routing' : ''}` : '';
        return {
          text: `overlay up: backend ${backend.type}${vx} on ${devices}, ${ownName}, pods mtu ${backend.podMtu}${o.ipMasq ? ' ip-masq' : ''}, ${s.peers.length} peer(s) (adopted ${s.adopted.kept} entries, removed ${s.adopted.removed} stale)`,
          fields: { backend: backend.type, device: backend.name, subnet: ownName, mtu: backend.podMtu, peers: s.peers.length },
        };
      },
    };
  }, async () => {
    await plane.abandon();
  });
}

/**
 * The overlay status of a kernel backend. The kernel keeps counters per
 * device, not per peer: the node's counters are its devices' (sent =
 * transmitted, delivered = received), each peer's are 0, and `kernel`
 * lists every entry that carries traffic to it.
 */
function kernelStatus(k: KernelBackendStatus, type: KernelBackendType, plane: ControlPlane, n: Omit<NodeFacts, 'port'>): OverlayStatus {
  const port = k.port ?? 0;
  let sent = 0;
  let delivered = 0;
  let rxDropped = 0;
  let txDropped = 0;
  for (const d of k.devices) {
    sent += d.txPackets;
    delivered += d.rxPackets;
    rxDropped += d.rxDropped;
    txDropped += d.txDropped;
  }
  return {
    mode: 'overlay',
    backend: type,
    kernel: k,
    network: n.network ? formatCidr(n.network, false) : formatCidr6(n.ipv6!.network6, false),
    subnet: n.subnet ? formatCidr(n.subnet, false) : formatCidr6(n.ipv6!.subnet6, false),
    ...(n.ipv6 ? { network6: formatCidr6(n.ipv6.network6, false), subnet6: formatCidr6(n.ipv6.subnet6, false) } : {}),
    endpoint: `${formatIPv4(n.publicIp)}:${port}`,
    publicIp: formatIPv4(n.publicIp),
    ...(n.publicIpv6 ? { publicIpv6: formatIPv6(n.publicIpv6) } : {}),
    port,
    ...(n.ipMasq ? { ipMasq: n.ipMasq } : {}),
    leases: { ...plane.status(), peers: k.peers.length },
    counters: { sent, delivered, errorsGenerated: 0, fragmented: 0, dropped: { ...(rxDropped ? { 'device-rx-dropped': rxDropped } : {}), ...(txDropped ? { 'device-tx-dropped': txDropped } : {}) } },
    peers: k.peers.map((p) => ({
      subnet: p.subnet, ...(p.subnet6 ? { subnet6: p.subnet6 } : {}), publicIp: p.publicIp, port,
      txPackets: 0, txBytes: 0, rxPackets: 0, rxBytes: 0, txPacketsPerSecond: 0, txBytesPerSecond: 0, rxPacketsPerSecond: 0, rxBytesPerSecond: 0,
    })),
  };
}
