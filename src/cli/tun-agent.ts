// `tun-driver overlay` with a user-space backend (udp, wireguard): our
// engine (src/overlay/overlay.ts) moves every packet between a TUN and a
// UDP socket, with the backend's transport (src/backend/udp/ or
// src/backend/wireguard/). It makes the TUN and the sockets, follows the
// control plane's leases, writes subnet.env and serves status, metrics and
// SIGHUP's key reload; everything goes on SIGINT/SIGTERM. The kernel
// backends' twin is kernel-agent.ts; overlay-command.ts picks one.
import { KeyObject } from 'node:crypto';
import type { OffloadStatus, OverlayStatus, PeerSecurity, WireGuardPeerStatus } from '../control/daemon-status.js';
import type { Logger } from '../log.js';
import { sysctlRead } from '../netns/sysctl.js';
import { formatCidr, formatIPv4 } from '../packet/addr.js';
import { formatCidr6, formatIPv6 } from '../packet/addr6.js';
import { DualUnderlay, Underlay6Endpoints } from '../overlay/underlay6.js';
import { describeSubnets, subnetName } from '../subnet/leases.js';
import { describePeerChanges } from '../overlay/lease-peers.js';
import type { ControlPlane } from '../subnet/control-plane.js';
import { writeSubnetEnv } from '../subnet/etcd/subnet-env.js';
import { installIpMasq, ip6MasqScript, ipMasqScript, ipMasqTable, removeIpMasq } from '../overlay/ip-masq.js';
import type { Peer } from '../overlay/route-table.js';
import { readPrivateKeyFile } from './key-commands.js';
import type { NodeKeyPair } from '../wireguard/keys.js';
import type { WgPeer } from '../wireguard/peer.js';
import { Overlay, UdpNetwork } from '../overlay/overlay.js';
import type { TransportContext } from '../overlay/peer-transport.js';
import { plainTransport } from '../backend/udp/transport.js';
import { WireGuardTransport } from '../backend/wireguard/transport.js';
import { serveUapi } from '../wg-interface/uapi-server.js';
import { formatUapiGet, UAPI_ERRNO, UapiError } from '../wireguard/uapi.js';
import type { UndoStack } from './daemon.js';
import type { NodeFacts } from './node-facts.js';
import { openOverlaySocket } from '../overlay/udp-socket.js';
import { LinuxTun } from '../tun/linux-tun.js';
import type { OffloadMode } from '../tun/offload.js';
import type { DatagramSocket } from '../io/datagram-socket.js';
import { IoWait, ioWaitLoop, ioWaitStatus } from './io-wait-option.js';
import { CaptureFlags, withCapture } from './capture.js';
import { stopOnIoError, traceWriter } from './daemon.js';
import { DaemonHost } from './daemon-host.js';
import { RateMeter } from '../control/rates.js';
import { daemonMetrics } from './metrics-option.js';
import type { Listen } from '../metrics/server.js';

/** The overlay flags this agent reads (checked by overlay-command.ts). */
export interface TunAgentFlags extends CaptureFlags {
  tun: string;
  via?: string;
  trace?: boolean;
  ipMasq?: boolean;
  ip6Masq?: boolean;
  subnetFile: string;
  /** The key file, re-read on SIGHUP. */
  privateKey?: string;
  allowPlaintextPeers?: boolean;
}

export interface TunAgentOptions {
  flags: TunAgentFlags;
  /** Opened: this node's subnet is taken (etcd) or read (leases file); abandoned if the start fails. */
  plane: ControlPlane;
  publicIp: number;
  publicIpv6?: Uint8Array;
  /** The wireguard backend's key pair (undefined: the udp backend). */
  keys?: NodeKeyPair;
  /** --preshared-key (else the control plane's PSK, if any). */
  psk?: Uint8Array;
  tunMtu: number;
  /** The largest inner packet one datagram carries. */
  pathMtu: number;
  offload: OffloadMode;
  ioWait: IoWait;
  pcapBytes: number;
  metricsAt?: Listen;
  log: Logger;
  /** SIGHUP's second half: re-read the control plane's credentials (etcd's certificate or password). */
  reloadControlPlane?: () => void;
}

export async function runTunAgent(o: TunAgentOptions): Promise<void> {
  const { flags, plane, log, publicIp, publicIpv6, tunMtu, pathMtu, metricsAt, pcapBytes, ioWait } = o;
  const offloadMode = o.offload;
  const { network, subnet, port, ipv6 } = plane;
  let keys = o.keys;
  const host = new DaemonHost(flags.tun, log, metricsAt);
  await host.run(async ({ undo }) => {
    const tunAddress = subnet && network ? { address: subnet.network, network: network.network, length: network.length } : undefined;
    // IPv6 likewise: the node's IPv6 subnet's first address with the IPv6 network's length.
    const tunAddress6 = ipv6 ? { address: ipv6.subnet6.network, network: ipv6.network6.network, length: ipv6.network6.length } : undefined;
    const tun = LinuxTun.create({ name: flags.tun, addresses: [...(tunAddress ? [tunAddress] : []), ...(tunAddress6 ? [tunAddress6] : [])], mtu: tunMtu, replace: 'if-stale', offload: offloadMode });
    undo.push(() => tun.close());
    if (tun.offload.note) log.info(`${flags.tun} offloads: ${tun.offload.note}`);
    if (flags.ipMasq || flags.ip6Masq) {
      const v6 = flags.ip6Masq ? ipv6 : undefined;
      installIpMasq(flags.ipMasq ? ipMasqScript(flags.tun, network!, subnet!, v6) : ip6MasqScript(flags.tun, v6!));
      if (flags.ipMasq) undo.push(() => removeIpMasq(flags.tun, 'ip'));
      if (v6) undo.push(() => removeIpMasq(flags.tun, 'ip6'));
    }
    const socket = openOverlaySocket({
      address: publicIp, port, via: flags.via, offload: offloadMode !== 'off',
      onGsoOff: (errno) => log.warn(`UDP GSO refused by the kernel (${errno}): sending one datagram per syscall from now on`, { errno }),
    });
    const underlay6 = publicIpv6 ? new Underlay6Endpoints() : undefined;
    let udp: UdpNetwork = socket;
    try {
      if (publicIpv6) {
        udp = new DualUnderlay(socket, underlay6!, {
          address: publicIpv6, port, via: flags.via, offload: offloadMode !== 'off',
          onGsoOff: (errno) => log.warn(`UDP GSO refused by the kernel on the IPv6 underlay (${errno}): sending one datagram per message there from now on`, { errno }),
        });
      }
    } catch (err) {
      socket.close();
      throw err;
    }
    undo.push(() => udp.close());
    let leaseEvents = 0;
    let overlay: Overlay | undefined;
    const metrics = daemonMetrics(metricsAt, {
      daemon: 'overlay',
      traffic: () => {
        let txBytes = 0;
        let rxBytes = 0;
        for (const p of overlay!.peers) {
          txBytes += p.txBytes;
          rxBytes += p.rxBytes;
        }
        return { tunToNet: { packets: overlay!.counters.sent, bytes: txBytes }, netToTun: { packets: overlay!.counters.delivered, bytes: rxBytes } };
      },
      drops: () => overlay!.counters.drops.toJSON(),
      active: () => overlay!.peers.length,
      peers: () => overlay!.peers.map((p) => ({ subnet: subnetName(p), txPackets: p.txPackets, txBytes: p.txBytes, rxPackets: p.rxPackets, rxBytes: p.rxBytes })),
      leaseEvents: () => leaseEvents,
      ioWait: () => ioWaitStatus(loop),
    });
    // The backend's transport: WireGuard messages to every node with a key (wireguard), or plain datagrams (udp).
    let sealed: WireGuardTransport | undefined;
    const transport = keys
      ? (ctx: TransportContext) => (sealed = new WireGuardTransport(ctx, { privateKey: keys!.privateKey, psk: o.psk ?? plane.psk, allowPlaintextPeers: flags.allowPlaintextPeers }))
      : plainTransport;
    const engine = new Overlay(withCapture(tun, flags, pcapBytes, log, undo), udp, {
      network, subnet, ipv6, underlay6, tunMtu, pathMtu, trace: traceWriter(flags.trace), batchObserver: metrics?.observeBatch, transport, log: (line) => log.info(line),
    });
    overlay = engine;
    engine.setLeases(plane.leases());
    if (sealed && keys) await serveReadOnlyUapi(flags.tun, () => keys!, sealed, port, log, undo);
    const loop = ioWaitLoop(ioWait);
    engine.start(stopOnIoError(host.shutdown, log, `carrying packets between ${flags.tun} and UDP`), loop);
    undo.push(() => engine.stop());
    plane.start({
      onChange: (next, why, delta) => {
        const { added, removed } = engine.setLeases(next, delta);
        leaseEvents++;
        log.info(`leases changed (${why}): ${describePeerChanges(engine.peers, added, removed)}`, { peers: engine.peers.length, added: added.length, removed: removed.length, why });
      },
      onWarning: (message) => log.warn(message),
      onFatal: (err) => host.shutdown.fail(log, `${err.message}; stopping`),
    });
    undo.push(() => plane.close());
    // Last: the CNI plugin gives pods addresses as soon as this file is there.
    writeSubnetEnv(flags.subnetFile, { network, subnet, mtu: tunMtu, ipMasq: flags.ipMasq ?? false, ...(ipv6 ? { network6: ipv6.network6, subnet6: ipv6.subnet6 } : {}) });
    // SIGHUP: a new --private-key, and (etcd mode) the etcd certificate files or password, re-read.
    const reloadKey = (): void => {
      if (!flags.privateKey || !keys) return log.info('SIGHUP: no key to reload (the overlay runs without --private-key)');
      let next: NodeKeyPair;
      try {
        next = readPrivateKeyFile(flags.privateKey, log);
      } catch (err) {
        return log.warn(`SIGHUP: keeping the current key: ${(err as Error).message}`);
      }
      if (next.publicKey === keys.publicKey) return log.info(`SIGHUP: ${flags.privateKey} holds the key in use (${next.publicKey}); nothing changed`);
      sealed?.rotateKey(next.privateKey);
      keys = next;
      plane.publishKey(next.publicKey).then(
        (what) => log.info(`SIGHUP: new key ${next.publicKey}, ${what}`, { publicKey: next.publicKey }),
        (err: Error) => log.warn(`SIGHUP: new key ${next.publicKey} in use, but publishing it failed (${err.message}); the other nodes will not learn it until it is published`),
      );
    };
    const rates = new RateMeter();
    const ownName = describeSubnets({ subnet, subnet6: ipv6?.subnet6 });
    const ipMasq = flags.ipMasq ? { table: ipMasqTable(flags.tun), subnetFile: flags.subnetFile } : undefined;
    const ip6Masq = flags.ip6Masq && ipv6 ? { table: ipMasqTable(flags.tun) } : undefined;
    return {
      probeTarget: engine,
      metrics,
      status: () => ({ ...overlayStatus(engine, sealed?.allowsPlaintext ?? false, { network, subnet, ipv6, publicIp, publicIpv6, port, ipMasq, ip6Masq, publicKey: keys?.publicKey }, plane, rates, offloadStatus(tun, socket)), ioWait: ioWaitStatus(loop) }),
      sample: () => {
        for (const p of engine.peers) rates.sample(subnetName(p), [p.txPackets, p.txBytes, p.rxPackets, p.rxBytes]);
      },
      report: () => {
        const txDropped = tunTxDropped(tun);
        return {
          text: `${engine.counters.format(engine.peers)}${txDropped ? `; ${flags.tun} transmit queue dropped ${txDropped}` : ''}`,
          fields: { counters: engine.counters.toJSON(engine.peers), tunTxDropped: txDropped },
        };
      },
      reload: () => {
        reloadKey();
        o.reloadControlPlane?.();
      },
      ready: () => {
        // Said only once the node is up: a start-up error stays one line.
        const described = plane.describe();
        log.info(described.summary, { subnet: ownName, ...described.details });
        if (subnet && sysctlRead('net.ipv4.ip_forward') !== '1') log.warn('net.ipv4.ip_forward is 0: this node will not forward between its pods and the overlay (sysctl -w net.ipv4.ip_forward=1)');
        if (ipv6 && sysctlRead('net.ipv6.conf.all.forwarding') !== '1') log.warn('net.ipv6.conf.all.forwarding is 0: this node will not forward IPv6 between its pods and the overlay (sysctl -w net.ipv6.conf.all.forwarding=1)');
        return {
          text: `overlay up: ${flags.tun} ${[tunAddress && formatCidr(tunAddress), tunAddress6 && formatCidr6(tunAddress6)].filter(Boolean).join(' ')} mtu ${tunMtu}${flags.ipMasq ? ' ip-masq' : ''}${flags.ip6Masq ? ' ip6-masq' : ''}${keys ? ` wireguard (key ${keys.publicKey})` : ''} offloads ${tun.offload.summary}, UDP${socket.gsoEnabled ? ' gso' : ''}${socket.groEnabled ? ' gro' : ''} ${formatIPv4(publicIp)}:${port}${publicIpv6 ? ` and [${formatIPv6(publicIpv6)}]:${port}` : ''}, io-wait ${ioWait}, ${describePeerChanges(engine.peers, [], [])}`,
          fields: { tun: flags.tun, subnet: ownName, mtu: tunMtu, ioWait, peers: engine.peers.length },
        };
      },
    };
  }, () => plane.abandon());
}

/**
 * The overlay's WireGuard as `wg show <tun>` sees it (the userspace API,
 * read-only: its peers come from the leases, and a set answers EPERM). The
 * socket path is the same in every namespace: a second node of a lab on one
 * machine finds it taken and goes on without it, saying so.
 */
async function serveReadOnlyUapi(tun: string, keys: () => NodeKeyPair, sealed: WireGuardTransport, port: number, log: Logger, undo: UndoStack): Promise<void> {
  try {
    const server = await serveUapi(tun, {
      get: () => formatUapiGet(sealed.uapiState(privateKeyBytes(keys().privateKey), port)),
      set: () => {
        throw new UapiError(UAPI_ERRNO.EPERM, `${tun} is read-only: the overlay's peers come from its leases`);
      },
    });
    undo.push(() => server.close());
  } catch (err) {
    log.warn(`wg show ${tun} will not see this node: ${(err as Error).message}`);
  }
}

/** The 32 bytes of an X25519 private key (as wg shows it to root). */
function privateKeyBytes(key: KeyObject): Uint8Array {
  return Uint8Array.from(Buffer.from(key.export({ format: 'jwk' }).d as string, 'base64url'));
}

/** How this node talks to a peer when it has a key itself. */
function peerSecurity(peer: Peer, allowPlaintext: boolean): PeerSecurity {
  if (peer.wg?.staticStatic) return 'wireguard';
  if (peer.publicKey) return 'refused: bad key';
  return allowPlaintext ? 'plaintext' : 'refused: no key';
}

/** A WireGuard peer as `wg show` shows it. */
function wireguardStatus(p: WgPeer): WireGuardPeerStatus {
  const now = performance.now();
  const kp = p.keypairs.current;
  return {
    publicKey: p.publicKey,
    latestHandshake: p.lastHandshakeWallMs ? new Date(p.lastHandshakeWallMs).toISOString() : null,
    latestHandshakeAgeSeconds: p.lastHandshakeWallMs ? Math.round((Date.now() - p.lastHandshakeWallMs) / 1000) : null,
    transferTx: p.txWireBytes,
    transferRx: p.rxWireBytes,
    keypairAgeSeconds: kp ? Math.round((now - kp.created) / 1000) : null,
    initiationsSent: p.initiationsSent,
    handshakeAttempts: p.handshakeAttempts,
    unansweredSeconds: p.attemptStartedAt === Infinity ? null : Math.round((now - p.attemptStartedAt) / 1000),
  };
}

/** Packets the kernel dropped on the TUN's transmit queue (the daemon did not read fast enough); 0 once the device is gone. */
function tunTxDropped(tun: LinuxTun): number {
  try {
    return tun.stats()?.txDropped ?? 0;
  } catch {
    return 0;
  }
}

/** The offload edges: what the kernel agreed to and what each edge has done. */
function offloadStatus(tun: LinuxTun, socket: DatagramSocket): OffloadStatus {
  return { tun: tun.offload.summary, udpGso: socket.gsoEnabled, udpGro: socket.groEnabled, ...tun.offloadCounters(), tunTxDropped: tunTxDropped(tun) };
}


function overlayStatus(overlay: Overlay, allowsPlaintext: boolean, node: NodeFacts, plane: ControlPlane, rates: RateMeter, offloads: OffloadStatus): OverlayStatus {
  const { network, subnet, publicIp, port } = node;
  const { peers, ...counters } = overlay.counters.toJSON(overlay.peers);
  return {
    mode: 'overlay',
    offloads,
    // An IPv6-only node names its IPv6 prefixes here too: the fields every reader shows.
    network: network ? formatCidr(network, false) : formatCidr6(node.ipv6!.network6, false),
    subnet: subnet ? formatCidr(subnet, false) : formatCidr6(node.ipv6!.subnet6, false),
    ...(node.ipv6 ? { network6: formatCidr6(node.ipv6.network6, false), subnet6: formatCidr6(node.ipv6.subnet6, false) } : {}),
    endpoint: `${formatIPv4(publicIp)}:${port}`,
    publicIp: formatIPv4(publicIp),
    ...(node.publicIpv6 ? { publicIpv6: formatIPv6(node.publicIpv6) } : {}),
    port,
    ...(node.ipMasq ? { ipMasq: node.ipMasq } : {}),
    ...(node.ip6Masq ? { ip6Masq: node.ip6Masq } : {}),
    ...(node.publicKey ? { publicKey: node.publicKey } : {}),
    leases: { ...plane.status(), peers: overlay.peers.length },
    counters,
    peers: peers.map((p, i) => {
      const [txPps = 0, txBps = 0, rxPps = 0, rxBps = 0] = rates.rates.get(p.subnet) ?? [];
      const wg = overlay.peers[i].wg;
      return { ...p, ...(node.publicKey ? { security: peerSecurity(overlay.peers[i], allowsPlaintext) } : {}), ...(wg ? { wireguard: wireguardStatus(wg) } : {}), txPacketsPerSecond: txPps, txBytesPerSecond: txBps, rxPacketsPerSecond: rxPps, rxBytesPerSecond: rxBps };
    }),
  };
}
