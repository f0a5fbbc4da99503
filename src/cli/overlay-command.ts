// `tun-driver overlay`: the UDP overlay daemon (flannel's UDP backend).
import { Command } from 'commander';
import { FSWatcher } from 'node:fs';
import { TunDriverError } from '../errors.js';
import { createLogger } from '../log.js';
import { addrList } from '../netlink/addr.js';
import { linkByName, linkList } from '../netlink/link.js';
import { NetlinkSocket } from '../netlink/socket.js';
import { sysctlRead } from '../netns/sysctl.js';
import { formatCidr, formatIPv4, parseCidr, parseIPv4, Prefix, prefixContains } from '../packet/addr.js';
import { DEFAULT_PORT, describeLease, Lease, loadLeasesFile, watchLeasesFile } from '../overlay/leases.js';
import { Overlay } from '../overlay/overlay.js';
import { openOverlaySocket } from '../overlay/udp-socket.js';
import { checkInterfaceName, LinuxTun, MAX_MTU, MIN_MTU } from '../tun/linux-tun.js';
import { addCaptureOptions, captureLimit, CaptureFlags, withCapture } from './capture.js';
import { daemonStatus, runUntilSignal, serveStatus, stopOnIoError, traceWriter, UndoStack } from './daemon.js';
import { intOption, usageError } from './output.js';
import { RateMeter } from '../control/rates.js';
import { addMetricsOption, daemonMetrics, metricsListen, serveMetrics } from './metrics-option.js';

/** Outer IPv4 (20) + UDP (8) headers around every inner packet. */
export const ENCAP_OVERHEAD = 28;

interface OverlayFlags extends CaptureFlags {
  metrics?: string;
  network: string;
  subnet: string;
  publicIp: string;
  leases: string;
  port: string;
  tun: string;
  via?: string;
  mtu?: string;
  trace?: boolean;
  jsonLog?: boolean;
}

export function overlayCommand(): Command {
  return addMetricsOption(addCaptureOptions(new Command('overlay')))
    .description("carry the cluster network between nodes in UDP (flannel's UDP backend): each node owns a subnet")
    .requiredOption('--network <cidr>', 'the whole cluster network, e.g. 10.244.0.0/16')
    .requiredOption('--subnet <cidr>', "this node's subnet, e.g. 10.244.1.0/24")
    .requiredOption('--public-ip <addr>', "this node's underlay address (other nodes send to it)")
    .requiredOption('--leases <file>', 'JSON file listing the nodes: {"nodes":[{"subnet":"10.244.1.0/24","publicIp":"198.51.100.1","port":8285}, ...]}; watched')
    .option('--port <n>', 'UDP port', String(DEFAULT_PORT))
    .option('--tun <name>', 'TUN device name', 'flannel0')
    .option('--via <iface>', 'send through this interface only')
    .option('--mtu <n>', `TUN MTU (default: the underlay's MTU - ${ENCAP_OVERHEAD})`)
    .option('--trace', 'print one line per packet on stdout')
    .option('--json-log', 'log JSON lines instead of text')
    .addHelpText('after', `
Examples:
  tun-driver overlay --network 10.244.0.0/16 --subnet 10.244.1.0/24 --public-ip 198.51.100.1 --leases leases.json
  tun-driver lab up --preset cluster && tun-driver lab exec host-1 -- tun-driver overlay ...

Like flannel's flannel0, the TUN gets the subnet's first address with the
network's prefix length, so the kernel routes the whole network into it
while the node's own subnet stays on its bridge. The UDP payload is the raw
inner IP packet (docs/overlay.md). SIGUSR1 prints counters per peer;
SIGINT/SIGTERM print them and remove the device.`)
    .action(runOverlay);
}

function cidrFlag(flag: string, text: string): Prefix {
  try {
    const p = parseCidr(text);
    if (p.address !== p.network) throw new Error(`"${text}" has host bits set: use ${formatCidr(p, false)}`);
    return p;
  } catch (err) {
    throw usageError(`${flag} ${(err as Error).message}`);
  }
}

async function runOverlay(flags: OverlayFlags): Promise<void> {
  const network = cidrFlag('--network', flags.network);
  const subnet = cidrFlag('--subnet', flags.subnet);
  if (subnet.length < network.length || !prefixContains(network, subnet.network)) throw usageError(`--subnet ${flags.subnet} is outside --network ${flags.network}`);
  if (subnet.length > 30) throw usageError(`--subnet ${flags.subnet}: use /30 or shorter`);
  const publicIp = parseIPv4(flags.publicIp);
  if (publicIp === undefined) throw usageError(`--public-ip ${flags.publicIp}: not an IPv4 address`);
  const port = intOption('--port', flags.port, 1, 65535);
  checkInterfaceName(flags.tun);
  if (flags.via) checkInterfaceName(flags.via);
  const mtuFlag = flags.mtu === undefined ? undefined : intOption('--mtu', flags.mtu, MIN_MTU, MAX_MTU);
  const pcapBytes = captureLimit(flags);
  const metricsAt = metricsListen(flags.metrics);
  const leases = loadLeasesFile(flags.leases, network);
  checkOwnLease(leases, subnet, publicIp, port, flags.leases);
  const log = createLogger('overlay', { json: flags.jsonLog });

  // The underlay: the interface that holds --public-ip (or --via) sets the MTU.
  const nl = NetlinkSocket.open();
  let underlayMtu: number;
  try {
    const own = addrList(nl).find((a) => a.prefix.address === publicIp);
    if (!own) throw usageError(`--public-ip ${flags.publicIp} is not an address of this host`);
    const links = linkList(nl);
    const underlay = flags.via ? linkByName(nl, flags.via) : links.find((l) => l.index === own.index)!;
    underlayMtu = underlay.mtu;
  } finally {
    nl.close();
  }
  const pathMtu = underlayMtu - ENCAP_OVERHEAD;
  const tunMtu = mtuFlag ?? pathMtu;
  if (sysctlRead('net.ipv4.ip_forward') !== '1') log.warn('net.ipv4.ip_forward is 0: this node will not forward between its pods and the overlay (sysctl -w net.ipv4.ip_forward=1)');

  let announceReady: () => void = () => {};
  const undo = new UndoStack(log);
  let overlay: Overlay;
  let watcher: FSWatcher;
  try {
    const tunAddress = { address: subnet.network, network: network.network, length: network.length };
    const tun = LinuxTun.create({ name: flags.tun, addresses: [tunAddress], mtu: tunMtu, replace: 'if-stale' });
    undo.push(() => tun.close());
    const socket = openOverlaySocket({ address: publicIp, port, via: flags.via });
    undo.push(() => socket.close());
    let leaseEvents = 0;
    const metrics = daemonMetrics(metricsAt, {
      daemon: 'overlay',
      traffic: () => {
        let txBytes = 0;
        let rxBytes = 0;
        for (const p of overlay.peers) {
          txBytes += p.txBytes;
          rxBytes += p.rxBytes;
        }
        return { tunToNet: { packets: overlay.counters.sent, bytes: txBytes }, netToTun: { packets: overlay.counters.delivered, bytes: rxBytes } };
      },
      drops: () => overlay.counters.drops.toJSON(),
      active: () => overlay.peers.length,
      peers: () => overlay.peers.map((p) => ({ subnet: formatCidr(p.subnet, false), txPackets: p.txPackets, txBytes: p.txBytes, rxPackets: p.rxPackets, rxBytes: p.rxBytes })),
      leaseEvents: () => leaseEvents,
    });
    overlay = new Overlay(withCapture(tun, flags, pcapBytes, log, undo), socket, { network, subnet, tunMtu, pathMtu, trace: traceWriter(flags.trace), batchObserver: metrics?.observeBatch });
    overlay.setLeases(leases);
    overlay.start(stopOnIoError(log, `carrying packets between ${flags.tun} and UDP`));
    undo.push(() => overlay.stop());
    watcher = watchLeasesFile(flags.leases, network, (next) => {
      try {
        checkOwnLease(next, subnet, publicIp, port, flags.leases);
      } catch (err) {
        return log.warn(`ignoring the new ${flags.leases}: ${(err as Error).message}; keeping the previous leases`);
      }
      overlay.setLeases(next);
      leaseEvents++;
      log.info(`leases changed: ${overlay.peers.length} peer(s): ${overlay.peers.map((p) => describeLease(p)).join(', ') || 'none'}`, { peers: overlay.peers.length });
    }, (err) => log.warn(`ignoring the new ${flags.leases}: ${err.message}; keeping the previous leases`));
    undo.push(() => watcher.close());
    const rates = new RateMeter();
    const status = daemonStatus(flags.tun, () => overlayStatus(overlay, network, subnet, publicIp, port, flags.leases, rates));
    await serveMetrics(metricsAt, metrics, status, undo, log);
    await serveStatus(flags.tun, status, undo, overlay, () => {
      for (const p of overlay.peers) rates.sample(`${p.subnet.network}/${p.subnet.length}`, [p.txPackets, p.txBytes, p.rxPackets, p.rxBytes]);
    });
    announceReady = () =>
      log.info(`overlay up: ${flags.tun} ${formatCidr(tunAddress)} mtu ${tunMtu}, UDP ${formatIPv4(publicIp)}:${port}, ${overlay.peers.length} peer(s): ${overlay.peers.map((p) => describeLease(p)).join(', ') || 'none yet'}`,
        { tun: flags.tun, subnet: formatCidr(subnet, false), mtu: tunMtu, peers: overlay.peers.length });
  } catch (err) {
    undo.undoAll();
    throw err;
  }
  const stopped = runUntilSignal(undo, (when) => log.info(`${when}: ${overlay.counters.format(overlay.peers)}`, { counters: overlay.counters.toJSON(overlay.peers) }));
  announceReady();
  await stopped;
}

/** This node's own entry in the leases, if listed, must agree with the flags. */
function checkOwnLease(leases: Lease[], subnet: Prefix, publicIp: number, port: number, file: string): void {
  for (const l of leases) {
    const sameSubnet = l.subnet.network === subnet.network && l.subnet.length === subnet.length;
    if (l.publicIp === publicIp && (!sameSubnet || l.port !== port)) {
      throw new TunDriverError('TUN_ERR_USAGE', `${file} lists ${formatIPv4(publicIp)} (this node) with ${describeLease(l)}, but the flags say ${formatCidr(subnet, false)} port ${port}`);
    }
    if (sameSubnet && l.publicIp !== publicIp) {
      throw new TunDriverError('TUN_ERR_USAGE', `${file} gives this node's subnet ${formatCidr(subnet, false)} to ${formatIPv4(l.publicIp)}, not to --public-ip ${formatIPv4(publicIp)}`);
    }
  }
}

/** What `tun-driver status` shows for an overlay node: counters, and each peer with its rates. */
function overlayStatus(overlay: Overlay, network: Prefix, subnet: Prefix, publicIp: number, port: number, leasesFile: string, rates: RateMeter): Record<string, unknown> {
  const counters = overlay.counters.toJSON(overlay.peers);
  return {
    mode: 'overlay',
    network: formatCidr(network, false),
    subnet: formatCidr(subnet, false),
    endpoint: `${formatIPv4(publicIp)}:${port}`,
    leases: { source: leasesFile, peers: overlay.peers.length },
    counters: { ...counters, peers: undefined },
    peers: overlay.peers.map((p, i) => {
      const [txPps = 0, txBps = 0, rxPps = 0, rxBps = 0] = rates.rates.get(`${p.subnet.network}/${p.subnet.length}`) ?? [];
      return { ...(counters.peers as object[])[i], txPacketsPerSecond: txPps, txBytesPerSecond: txBps, rxPacketsPerSecond: rxPps, rxBytesPerSecond: rxBps };
    }),
  };
}
