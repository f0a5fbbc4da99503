// `tun-driver overlay`'s agent, whatever the backend: flannel's main loop.
// The subnet manager (src/subnet/) has taken this node's subnet; the agent
// opens the backend (src/backend/) for it, masquerades if asked, hands the
// backend every lease change, writes subnet.env for the CNI plugin, and
// serves status, metrics, doctor's probe and SIGHUP's reload. On
// SIGINT/SIGTERM everything of the agent goes; what the backend leaves is
// its own affair (a kernel backend's data plane stays for the next agent).
import type { OverlayStatus } from '../control/daemon-status.js';
import type { Logger } from '../log.js';
import type { Listen } from '../metrics/server.js';
import type { DaemonMetrics } from '../metrics/metrics.js';
import { sysctlRead } from '../netns/sysctl.js';
import { formatCidr, formatIPv4 } from '../packet/addr.js';
import { formatCidr6, formatIPv6 } from '../packet/addr6.js';
import type { ControlPlane, LeaseDelta } from '../subnet/control-plane.js';
import { writeSubnetEnv } from '../subnet/etcd/subnet-env.js';
import { describeSubnets, sameSubnets, type Lease } from '../subnet/leases.js';
import { installIpMasq, ip6MasqScript, ipMasqScript, ipMasqTable, removeIpMasq } from '../overlay/ip-masq.js';
import type { Backend, LeaseChange } from '../backend/backend.js';
import type { UndoStack } from './daemon.js';
import { stopOnIoError } from './daemon.js';
import { DaemonHost } from './daemon-host.js';
import { daemonMetrics } from './metrics-option.js';

/** What the backend's opener gets from the agent. */
export interface OpenContext {
  /** Set-up steps outside the backend (the --pcap file) push their undo here. */
  undo: UndoStack;
  /** With --metrics: the engine reports each batch's size here. */
  observeBatch?: DaemonMetrics['observeBatch'];
}

export interface AgentOptions {
  /** Opened: this node's subnet is taken (etcd) or read (leases file); abandoned if the start fails. */
  plane: ControlPlane;
  /** The name the daemon goes by: the backend's device (known before it opens), or "host-gw". */
  name: string;
  /** Opens the backend for the plane's subnets; undoes what it made itself if it throws. */
  open: (ctx: OpenContext) => Backend | Promise<Backend>;
  publicIp: number;
  publicIpv6?: Uint8Array;
  subnetFile: string;
  ipMasq: boolean;
  ip6Masq: boolean;
  log: Logger;
  metricsAt?: Listen;
  /** SIGHUP's second half: re-read the control plane's credentials (etcd's certificate or password). */
  reloadControlPlane?: () => void;
}

export async function runAgent(o: AgentOptions): Promise<void> {
  const { plane, log } = o;
  const { network, subnet, ipv6 } = plane;
  const own = { subnet, subnet6: ipv6?.subnet6 };
  const ownName = describeSubnets(own);
  // This node's own lease is in the plane's list; a backend follows the others.
  const isOther = (l: Lease): boolean => l.publicIp !== o.publicIp && !sameSubnets(l, own);
  let backend: Backend | undefined;
  let leaseEvents = 0;
  // Made once the backend is open (only a user-space one has an io-wait loop to report); the engine reports batches through this from the start.
  let metrics: DaemonMetrics | undefined;
  const observeBatch: DaemonMetrics['observeBatch'] | undefined = o.metricsAt ? (side, size) => metrics?.observeBatch(side, size) : undefined;
  const apply = (leases: readonly Lease[], why: string, delta?: LeaseDelta): LeaseChange => {
    const change = backend!.setLeases(leases.filter(isOther), delta && { added: delta.added.filter(isOther), removed: delta.removed.filter(isOther) });
    leaseEvents++;
    for (const s of change.skipped) log.warn(`skipping the lease of ${s}`, { skipped: s });
    if (why !== 'start' && (change.added || change.removed)) {
      log.info(`leases changed (${why}): ${change.text}`, { added: change.added, removed: change.removed, why });
    }
    return change;
  };
  const masqTable = o.name;
  const ipMasq = o.ipMasq ? { table: ipMasqTable(masqTable), subnetFile: o.subnetFile } : undefined;
  const ip6Masq = o.ip6Masq && ipv6 ? { table: ipMasqTable(masqTable) } : undefined;
  const host = new DaemonHost(o.name, log, o.metricsAt);
  await host.run(async ({ undo }) => {
    const b = await o.open({ undo, observeBatch });
    backend = b;
    metrics = daemonMetrics(o.metricsAt, {
      daemon: 'overlay',
      traffic: () => b.traffic(),
      drops: () => b.drops(),
      active: () => b.active(),
      peers: () => b.peers(),
      leaseEvents: () => leaseEvents,
      ...(b.ioWait ? { ioWait: () => b.ioWait!() } : {}),
    });
    undo.push(() => b.close());
    if (o.ipMasq || o.ip6Masq) {
      const v6 = o.ip6Masq ? ipv6 : undefined;
      installIpMasq(o.ipMasq ? ipMasqScript(masqTable, network!, subnet!, v6) : ip6MasqScript(masqTable, v6!));
      if (o.ipMasq) undo.push(() => removeIpMasq(masqTable, 'ip'));
      if (v6) undo.push(() => removeIpMasq(masqTable, 'ip6'));
    }
    apply(plane.leases(), 'start');
    // Only a user-space backend's engine can fail this way (a kernel backend's start does nothing).
    b.start(stopOnIoError(host.shutdown, log, `carrying packets between ${b.name} and UDP`));
    plane.start({
      onChange: (next, why, delta) => apply(next, why, delta),
      onWarning: (message) => log.warn(message),
      onFatal: (err) => host.shutdown.fail(log, `${err.message}; stopping`),
    });
    undo.push(() => plane.close());
    // Last: the CNI plugin gives pods addresses as soon as this file is there.
    writeSubnetEnv(o.subnetFile, { network, subnet, mtu: b.podMtu, ipMasq: o.ipMasq, ...(ipv6 ? { network6: ipv6.network6, subnet6: ipv6.subnet6 } : {}) });
    const status = (): OverlayStatus => {
      const s = b.status();
      return {
        mode: 'overlay',
        ...s,
        // An IPv6-only node names its IPv6 prefixes here too: the fields every reader shows.
        network: network ? formatCidr(network, false) : formatCidr6(ipv6!.network6, false),
        subnet: subnet ? formatCidr(subnet, false) : formatCidr6(ipv6!.subnet6, false),
        ...(ipv6 ? { network6: formatCidr6(ipv6.network6, false), subnet6: formatCidr6(ipv6.subnet6, false) } : {}),
        endpoint: `${formatIPv4(o.publicIp)}:${s.port}`,
        publicIp: formatIPv4(o.publicIp),
        ...(o.publicIpv6 ? { publicIpv6: formatIPv6(o.publicIpv6) } : {}),
        ...(ipMasq ? { ipMasq } : {}),
        ...(ip6Masq ? { ip6Masq } : {}),
        leases: { ...plane.status(), peers: s.peers.length },
      };
    };
    return {
      probeTarget: b.probeTarget,
      metrics,
      status,
      sample: () => b.sample(),
      report: () => b.report(),
      reload: () => {
        if (b.reload) b.reload();
        else log.info(`SIGHUP: the ${b.type} backend has no key to reload`);
        o.reloadControlPlane?.();
      },
      ready: () => {
        // Said only once the node is up: a start-up error stays one line.
        const described = plane.describe();
        log.info(described.summary, { subnet: ownName, ...described.details });
        if (subnet && sysctlRead('net.ipv4.ip_forward') !== '1') log.warn('net.ipv4.ip_forward is 0: this node will not forward between its pods and other nodes (sysctl -w net.ipv4.ip_forward=1)');
        if (ipv6 && sysctlRead('net.ipv6.conf.all.forwarding') !== '1') log.warn('net.ipv6.conf.all.forwarding is 0: this node will not forward IPv6 between its pods and other nodes (sysctl -w net.ipv6.conf.all.forwarding=1)');
        const line = b.describe(`${o.ipMasq ? ' ip-masq' : ''}${o.ip6Masq ? ' ip6-masq' : ''}`);
        return { text: `overlay up: ${line.text}`, fields: { subnet: ownName, ...line.fields } };
      },
    };
  }, () => plane.abandon());
}
