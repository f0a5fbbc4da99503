// The user-space backends' data plane: a TUN, the underlay's UDP socket(s)
// and our engine (src/overlay/overlay.ts) between them, which moves every
// packet with the backend's transport: plain datagrams (the udp backend,
// ./udp/transport.ts) or WireGuard (./wireguard/backend.ts extends this).
// close() removes the TUN and the sockets: nothing of a user-space
// backend outlives its agent.
import type { OffloadStatus, PeerStatus } from '../control/daemon-status.js';
import type { Probeable } from '../control/probe.js';
import { RateMeter } from '../control/rates.js';
import type { DatagramSocket } from '../io/datagram-socket.js';
import type { PollLoop } from '../io/poll-loop.js';
import type { Logger, LogLine } from '../log.js';
import type { DaemonMetrics } from '../metrics/metrics.js';
import { Overlay } from '../overlay/overlay.js';
import { describePeerChanges } from '../overlay/lease-peers.js';
import type { TransportFactory } from '../overlay/peer-transport.js';
import type { Peer } from '../overlay/route-table.js';
import type { UdpNetwork } from '../overlay/udp-network.js';
import { openOverlaySocket } from '../overlay/udp-socket.js';
import { DualUnderlay, Underlay6Endpoints } from '../overlay/underlay6.js';
import { formatCidr, formatIPv4, Prefix } from '../packet/addr.js';
import { formatCidr6, formatIPv6, Prefix6 } from '../packet/addr6.js';
import type { LeaseDelta } from '../subnet/control-plane.js';
import { subnetName, type Lease } from '../subnet/leases.js';
import type { PacketDevice } from '../tun/device.js';
import { LinuxTun } from '../tun/linux-tun.js';
import type { OffloadMode } from '../tun/offload.js';
import type { Backend, BackendStatus, LeaseChange } from './backend.js';
import { plainTransport } from './udp/transport.js';

export interface TunEngineOptions {
  /** The TUN's name (the daemon's name too). */
  tun: string;
  /** Send through this interface only. */
  via?: string;
  /** The cluster's and this node's prefixes, per family (at least one family). */
  network?: Prefix;
  subnet?: Prefix;
  ipv6?: { network6: Prefix6; subnet6: Prefix6 };
  publicIp: number;
  publicIpv6?: Uint8Array;
  port: number;
  tunMtu: number;
  /** The largest inner packet one datagram carries. */
  pathMtu: number;
  offload: OffloadMode;
  /** How the data plane waits: its own poll loop, or undefined for libuv's callbacks. */
  loop?: PollLoop;
  /** The --io-wait mode that made `loop`, as the ready line names it. */
  ioWaitMode: string;
  /** Wraps the TUN before the engine reads it (the CLI's --pcap). */
  wrapTun?: (tun: PacketDevice) => PacketDevice;
  trace?: (line: string) => void;
  observeBatch?: DaemonMetrics['observeBatch'];
  log: Logger;
}

/** The TUN and sockets of one node, made (and closed again if a later step fails). */
export interface Made {
  tun: LinuxTun;
  /** The TUN's addresses, as `ip addr` shows them ("10.244.1.0/16 fd00:10:244:1::/48"). */
  addressText: string;
  socket: DatagramSocket;
  udp: UdpNetwork;
  underlay6?: Underlay6Endpoints;
}

/** Makes the TUN (its subnet's first address with the network's length, per family) and the underlay socket(s). */
export function makeDevices(o: TunEngineOptions): Made {
  const { network, subnet, ipv6 } = o;
  // Like flannel's flannel0: the kernel routes the whole network into the TUN, while the node's own subnet stays on its bridge.
  const v4 = subnet && network ? { address: subnet.network, network: network.network, length: network.length } : undefined;
  const v6 = ipv6 ? { address: ipv6.subnet6.network, network: ipv6.network6.network, length: ipv6.network6.length } : undefined;
  const tun = LinuxTun.create({ name: o.tun, addresses: [...(v4 ? [v4] : []), ...(v6 ? [v6] : [])], mtu: o.tunMtu, replace: 'if-stale', offload: o.offload });
  const addressText = [v4 && formatCidr(v4), v6 && formatCidr6(v6)].filter(Boolean).join(' ');
  if (tun.offload.note) o.log.info(`${o.tun} offloads: ${tun.offload.note}`);
  let socket: DatagramSocket | undefined;
  try {
    const gso = o.offload !== 'off';
    socket = openOverlaySocket({
      address: o.publicIp, port: o.port, via: o.via, offload: gso,
      onGsoOff: (errno) => o.log.warn(`UDP GSO refused by the kernel (${errno}): sending one datagram per syscall from now on`, { errno }),
    });
    if (!o.publicIpv6) return { tun, addressText, socket, udp: socket };
    const underlay6 = new Underlay6Endpoints();
    const udp = new DualUnderlay(socket, underlay6, {
      address: o.publicIpv6, port: o.port, via: o.via, offload: gso,
      onGsoOff: (errno) => o.log.warn(`UDP GSO refused by the kernel on the IPv6 underlay (${errno}): sending one datagram per message there from now on`, { errno }),
    });
    return { tun, addressText, socket, udp, underlay6 };
  } catch (err) {
    socket?.close();
    tun.close();
    throw err;
  }
}

/** The udp backend, and the engine every user-space backend runs on. */
export class TunEngineBackend implements Backend {
  readonly type: 'udp' | 'wireguard' = 'udp';
  private readonly engine: Overlay;
  private readonly rates = new RateMeter();

  /** Makes the TUN and sockets and builds the engine with `transport` (the udp backend's by default). */
  static open(o: TunEngineOptions): TunEngineBackend {
    return new TunEngineBackend(o, makeDevices(o), plainTransport);
  }

  protected constructor(protected readonly o: TunEngineOptions, private readonly made: Made, transport: TransportFactory) {
    try {
      this.engine = new Overlay(o.wrapTun ? o.wrapTun(made.tun) : made.tun, made.udp, {
        network: o.network, subnet: o.subnet, ipv6: o.ipv6, underlay6: made.underlay6, tunMtu: o.tunMtu, pathMtu: o.pathMtu,
        trace: o.trace, batchObserver: o.observeBatch, transport, log: (line) => o.log.info(line),
      });
    } catch (err) {
      made.udp.close();
      made.tun.close();
      throw err;
    }
  }

  get name(): string {
    return this.o.tun;
  }

  get podMtu(): number {
    return this.o.tunMtu;
  }

  get probeTarget(): Probeable {
    return this.engine;
  }

  setLeases(leases: readonly Lease[], delta?: LeaseDelta): LeaseChange {
    const { added, removed } = this.engine.setLeases(leases, delta);
    return { added: added.length, removed: removed.length, skipped: [], text: describePeerChanges(this.engine.peers, added, removed) };
  }

  start(fail: (err: Error) => void): void {
    this.engine.start(fail, this.o.loop);
  }

  sample(): void {
    for (const p of this.engine.peers) this.rates.sample(subnetName(p), [p.txPackets, p.txBytes, p.rxPackets, p.rxBytes]);
  }

  status(): BackendStatus {
    const { peers, ...counters } = this.engine.counters.toJSON(this.engine.peers);
    return {
      backend: this.type,
      offloads: this.offloadStatus(),
      ioWait: this.ioWait(),
      port: this.o.port,
      counters,
      peers: peers.map((p, i) => {
        const [txPps = 0, txBps = 0, rxPps = 0, rxBps = 0] = this.rates.rates.get(p.subnet) ?? [];
        return { ...p, ...this.peerDetails(this.engine.peers[i]), txPacketsPerSecond: txPps, txBytesPerSecond: txBps, rxPacketsPerSecond: rxPps, rxBytesPerSecond: rxBps };
      }),
    };
  }

  /** What a backend adds to each peer's status (WireGuard: its security and handshake state). */
  protected peerDetails(_peer: Peer): Pick<PeerStatus, 'security' | 'wireguard'> {
    return {};
  }

  ioWait(): NonNullable<BackendStatus['ioWait']> {
    return this.o.loop ? this.o.loop.stats() : { mode: 'libuv' };
  }

  traffic(): ReturnType<Backend['traffic']> {
    let txBytes = 0;
    let rxBytes = 0;
    for (const p of this.engine.peers) {
      txBytes += p.txBytes;
      rxBytes += p.rxBytes;
    }
    return { tunToNet: { packets: this.engine.counters.sent, bytes: txBytes }, netToTun: { packets: this.engine.counters.delivered, bytes: rxBytes } };
  }

  drops(): Record<string, number> {
    return this.engine.counters.drops.toJSON();
  }

  active(): number {
    return this.engine.peers.length;
  }

  peers(): ReturnType<Backend['peers']> {
    return this.engine.peers.map((p) => ({ subnet: subnetName(p), txPackets: p.txPackets, txBytes: p.txBytes, rxPackets: p.rxPackets, rxBytes: p.rxBytes }));
  }

  report(): LogLine {
    const txDropped = this.tunTxDropped();
    return {
      text: `${this.engine.counters.format(this.engine.peers)}${txDropped ? `; ${this.o.tun} transmit queue dropped ${txDropped}` : ''}`,
      fields: { counters: this.engine.counters.toJSON(this.engine.peers), tunTxDropped: txDropped },
    };
  }

  describe(extras: string): LogLine {
    const { o, made } = this;
    const udp = `UDP${made.socket.gsoEnabled ? ' gso' : ''}${made.socket.groEnabled ? ' gro' : ''} ${formatIPv4(o.publicIp)}:${o.port}${o.publicIpv6 ? ` and [${formatIPv6(o.publicIpv6)}]:${o.port}` : ''}`;
    return {
      text: `${o.tun} ${made.addressText} mtu ${o.tunMtu}${extras}${this.describeSecurity()} offloads ${made.tun.offload.summary}, ${udp}, io-wait ${o.ioWaitMode}, ${describePeerChanges(this.engine.peers, [], [])}`,
      fields: { tun: o.tun, mtu: o.tunMtu, peers: this.engine.peers.length },
    };
  }

  /** The ready line's word on encryption (WireGuard names its key). */
  protected describeSecurity(): string {
    return '';
  }

  close(): void {
    this.engine.stop();
    this.made.udp.close();
    this.made.tun.close();
  }

  /** Packets the kernel dropped on the TUN's transmit queue (the daemon did not read fast enough); 0 once the device is gone. */
  private tunTxDropped(): number {
    try {
      return this.made.tun.stats()?.txDropped ?? 0;
    } catch {
      return 0;
    }
  }

  private offloadStatus(): OffloadStatus {
    const { tun, socket } = this.made;
    return { tun: tun.offload.summary, udpGso: socket.gsoEnabled, udpGro: socket.groEnabled, ...tun.offloadCounters(), tunTxDropped: this.tunTxDropped() };
  }
}
