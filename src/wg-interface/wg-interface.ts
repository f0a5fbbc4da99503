// A WireGuard network interface in user space, driven through the userspace
// API as wireguard-go's is (wg, wg-quick): a TUN, a UDP socket, and our
// WireGuard (src/wireguard/). Packets read from the TUN go to the peer whose
// allowed IPs hold their destination most specifically (cryptokey
// routing), sealed; messages from the socket are opened and their packets
// written into the TUN only when their source is inside that peer's allowed
// IPs. Endpoints roam: an authenticated message from a new address moves
// its peer there. A whole `set` is checked before any of it is applied, so
// a bad one changes nothing. IPv4 endpoints (IPv6 packets inside are fine);
// IPv6 endpoints are refused by name for now.
import { RxBatch, SpanList, TxQueue } from '../io/batch.js';
import { GRO_MAX_SEGMENTS, GRO_SLOT_BYTES } from '../io/datagram-socket.js';
import type { DatagramSocket } from '../io/datagram-socket.js';
import { C, native } from '../native/addon.js';
import { get16, get32 } from '../packet/bytes.js';
import { IPV6 } from '../packet/ipv6.js';
import { LinuxTun } from '../tun/linux-tun.js';
import { openOverlaySocket } from '../overlay/udp-socket.js';
import { AllowedIps } from '../wireguard/allowed-ips.js';
import { NOT_OPENED, paddedLength, WireGuard } from '../wireguard/device.js';
import { Keypair } from '../wireguard/keypair.js';
import { TRANSPORT_HEADER, TRANSPORT_OVERHEAD } from '../wireguard/messages.js';
import { WgPeer } from '../wireguard/peer.js';
import { keyPairOf } from '../wireguard/keys.js';
import { formatUapiGet, UAPI_ERRNO, UapiDeviceState, UapiEndpoint, UapiError, UapiSet } from '../wireguard/uapi.js';

/** One peer as configured (the WireGuard's WgPeer carries its session while the device has a key). */
interface IfPeer {
  publicKey: Uint8Array;
  psk: Uint8Array;
  endpoint?: UapiEndpoint;
  keepaliveSeconds: number;
  wg?: WgPeer;
}

const ZERO_KEY = new Uint8Array(32);
const isZero = (k: Uint8Array): boolean => k.every((b) => b === 0);
const b64 = (k: Uint8Array): string => Buffer.from(k).toString('base64');
const hexOf = (k: Uint8Array): string => Buffer.from(k).toString('hex');

export interface WgInterfaceCounters {
  /** Packets from the TUN that no peer's allowed IPs hold. */
  noRoute: number;
  /** Decrypted packets whose source is outside their peer's allowed IPs. */
  outsideAllowedIps: number;
  /** Packets from the TUN while the interface has no private key. */
  noKey: number;
  malformed: number;
  sendFailed: number;
  tunWriteFailed: number;
}

export class WgInterface {
  readonly counters: WgInterfaceCounters = { noRoute: 0, outsideAllowedIps: 0, noKey: 0, malformed: 0, sendFailed: 0, tunWriteFailed: 0 };
  private wg?: WireGuard;
  private privateKey?: Uint8Array;
  private listenPort = 0;
  private fwmark = 0;
  private socket?: DatagramSocket;
  private readonly peers = new Map<string, IfPeer>();
  private readonly byWg = new Map<WgPeer, IfPeer>();
  private readonly allowed = new AllowedIps<IfPeer>();
  private timer?: NodeJS.Timeout;
  private readonly tunRx: RxBatch;
  private readonly netRx = new RxBatch(32, GRO_SLOT_BYTES, 0, 32 * GRO_MAX_SEGMENTS);
  private readonly toTun = new SpanList(32 * GRO_MAX_SEGMENTS);
  private readonly sealed: TxQueue;
  private opened = new Uint32Array(0);
  private openedWith: Array<Keypair | undefined> = [];

  private constructor(readonly tun: LinuxTun, private readonly mtu: number, private readonly onFatal: (err: Error) => void) {
    this.tunRx = new RxBatch(64, Math.max(2048, mtu));
    this.sealed = new TxQueue(64, mtu + TRANSPORT_OVERHEAD + 16);
  }

  /**
   * Creates the TUN `name` (no address: wg-quick or the user adds them), and reads it.
   * @throws TunDriverError when the name is taken or the TUN cannot be made.
   */
  static create(name: string, onFatal: (err: Error) => void, mtu = 1420): WgInterface {
    const tun = LinuxTun.create({ name, mtu });
    const i = new WgInterface(tun, mtu, onFatal);
    tun.startReading(i.tunRx, (b) => i.fromTun(b), (err) => onFatal(err));
    i.timer = setInterval(() => i.wg?.tick(), 100);
    i.timer.unref();
    return i;
  }

  get name(): string {
    return this.tun.name;
  }

  close(): void {
    clearInterval(this.timer);
    this.socket?.close();
    this.tun.close();
  }

  // ---- the userspace API ----------------------------------------------------

  /** The answer to a get. */
  get(): string {
    const state: UapiDeviceState = { privateKey: this.privateKey, listenPort: this.listenPort, fwmark: this.fwmark, peers: [] };
    for (const p of this.peers.values()) {
      const w = p.wg;
      const endpoint = w && !(w.endpointAddr === 0 && w.endpointPort === 0) ? { addr: w.endpointAddr, port: w.endpointPort } : p.endpoint;
      state.peers.push({
        publicKey: p.publicKey, presharedKey: p.psk, endpoint, lastHandshakeMs: w?.lastHandshakeWallMs ?? 0,
        txBytes: w?.txWireBytes ?? 0, rxBytes: w?.rxWireBytes ?? 0, persistentKeepalive: p.keepaliveSeconds, allowedIps: this.allowed.entriesFor(p),
      });
    }
    return formatUapiGet(state);
  }

  /**
   * Applies a checked set, all of it or (on an error) none: what can fail
   * (an IPv6 endpoint, a port in use) is tried before anything changes.
   * @throws UapiError
   */
  set(s: UapiSet): void {
    for (const p of s.peers) if (p.endpoint && typeof p.endpoint.addr !== 'number') throw new UapiError(UAPI_ERRNO.EINVAL, `endpoint of peer ${hexOf(p.publicKey).slice(0, 8)}...: IPv6 endpoints are not carried yet (IPv4 ones are)`);
    // The socket first: a port in use changes nothing.
    const port = s.listenPort ?? this.listenPort;
    let socket = this.socket;
    if (!socket || (s.listenPort !== undefined && s.listenPort !== this.listenPort)) {
      try {
        socket = openOverlaySocket({ address: 0, port, offload: true });
      } catch (err) {
        throw new UapiError(UAPI_ERRNO.EADDRINUSE, `listen_port ${port}: ${(err as Error).message}`);
      }
    }
    if (s.fwmark !== undefined) {
      try {
        native.setsockoptInt(socket.fd, C.SOL_SOCKET, C.SO_MARK, s.fwmark);
      } catch (err) {
        if (socket !== this.socket) socket.close();
        throw new UapiError(UAPI_ERRNO.EINVAL, `fwmark ${s.fwmark}: ${(err as Error).message}`);
      }
      this.fwmark = s.fwmark;
    }
    if (socket !== this.socket) {
      if (this.socket) {
        if (this.fwmark) native.setsockoptInt(socket.fd, C.SOL_SOCKET, C.SO_MARK, this.fwmark);
        this.socket.close();
      }
      this.socket = socket;
      this.listenPort = port === 0 ? native.sockPort(socket.fd) : port;
      socket.startReading(this.netRx, (b) => this.fromNetwork(b), (err) => this.onFatal(err));
    }
    let rebuild = false;
    if (s.privateKey) {
      const key = isZero(s.privateKey) ? undefined : s.privateKey;
      rebuild = (key ? hexOf(key) : '') !== (this.privateKey ? hexOf(this.privateKey) : '');
      this.privateKey = key;
    }
    if (s.replacePeers) for (const p of [...this.peers.values()]) this.removePeer(p);
    if (rebuild) this.rebuild();
    for (const c of s.peers) {
      const id = hexOf(c.publicKey);
      let p = this.peers.get(id);
      if (c.remove) {
        if (p) this.removePeer(p);
        continue;
      }
      if (!p && c.updateOnly) continue;
      if (!p) {
        p = { publicKey: c.publicKey, psk: ZERO_KEY, keepaliveSeconds: 0 };
        this.peers.set(id, p);
      }
      if (c.presharedKey) p.psk = c.presharedKey;
      if (c.endpoint) p.endpoint = c.endpoint;
      if (c.persistentKeepalive !== undefined) p.keepaliveSeconds = c.persistentKeepalive;
      if (c.replaceAllowedIps) this.allowed.removeByPeer(p);
      for (const a of c.allowedIps) this.allowed.insert(a, p);
      this.attach(p);
    }
  }

  /** Gives `p` its WgPeer under the current key (kept when nothing that keys a session changed). */
  private attach(p: IfPeer): void {
    const wg = this.wg;
    if (!wg) return;
    // A peer with our own public key is ignored, as wireguard-go does.
    if (hexOf(p.publicKey) === hexOf(wg.identity.publicKey)) return;
    const addr = typeof p.endpoint?.addr === 'number' ? p.endpoint.addr : 0;
    const port = p.endpoint?.port ?? 0;
    if (p.wg && p.wg.psk === p.psk && wg.peerByKey(b64(p.publicKey)) === p.wg) {
      if (p.endpoint) wg.setEndpoint(p.wg, addr, port);
    } else {
      if (p.wg) this.byWg.delete(p.wg);
      p.wg = wg.peer(b64(p.publicKey), p.publicKey, addr, port, p.psk);
      this.byWg.set(p.wg, p);
    }
    p.wg.persistentKeepaliveMs = p.keepaliveSeconds * 1000;
  }

  private removePeer(p: IfPeer): void {
    if (p.wg) {
      this.wg?.removePeer(p.wg);
      this.byWg.delete(p.wg);
    }
    this.allowed.removeByPeer(p);
    this.peers.delete(hexOf(p.publicKey));
  }

  /** A new key: a new WireGuard under it, every peer attached again (their sessions were under the old key). */
  private rebuild(): void {
    this.wg = this.privateKey
      ? new WireGuard({
          privateKey: keyPairOf(b64(this.privateKey)).privateKey,
          pathMtu: this.mtu,
          roaming: true,
          send: (m) => this.sendDatagrams(m),
        })
      : undefined;
    this.byWg.clear();
    for (const p of this.peers.values()) {
      p.wg = undefined;
      this.attach(p);
    }
  }

  // ---- the data path --------------------------------------------------------

  private sendDatagrams(m: { buf: Uint8Array; offsets: Uint32Array; lengths: Uint32Array; addrs: Uint32Array; count: number }): void {
    if (!this.socket || m.count === 0) return;
    this.socket.send(m, 0, m.count, () => this.counters.sendFailed++);
  }

  /** Packets from the TUN: each to the peer whose allowed IPs hold its destination, runs to one peer sealed in one call. */
  private fromTun(batch: RxBatch): void {
    const wg = this.wg;
    const out = this.sealed;
    out.clear();
    if (!wg) {
      this.counters.noKey += batch.count;
      return;
    }
    const src = this.srcSpans;
    src.reset(batch.buf);
    let runPeer: WgPeer | undefined;
    let runKp: Keypair | undefined;
    let runStart = 0;
    // The keypair is looked up once per change of peer, not per packet.
    let lastPeer: WgPeer | undefined;
    let lastKp: Keypair | undefined;
    const sealRun = (): void => {
      if (runKp && out.count > runStart) wg.sealRun(runPeer!, runKp, out, runStart, out.count - runStart, src, runStart);
      runStart = out.count;
    };
    for (let i = 0; i < batch.count; i++) {
      const off = batch.offset(i);
      const len = batch.sizes[i];
      const version = len > 0 ? batch.buf[off] >>> 4 : 0;
      const p = version === 4 && len >= 20 ? this.allowed.lookup4(get32(batch.buf, off + 16)) : version === 6 && len >= IPV6.HEADER ? this.allowed.lookup6(batch.buf, off + 24) : undefined;
      const peer = p?.wg;
      if (!peer) {
        this.counters.noRoute++;
        continue;
      }
      if (peer !== lastPeer) {
        lastPeer = peer;
        lastKp = wg.sendingKeypair(peer, 1);
      }
      const kp = lastKp;
      if (!kp) {
        wg.stage(peer, batch.buf, off, len);
        continue;
      }
      if (peer !== runPeer || kp !== runKp || out.full) {
        sealRun();
        if (out.full) {
          this.sendDatagrams(out);
          out.clear();
          src.clear();
          runStart = 0;
        }
        runPeer = peer;
        runKp = kp;
      }
      src.add(off, len, peer.endpointAddr, peer.endpointPort);
      out.commit(paddedLength(len, this.mtu) + TRANSPORT_OVERHEAD, peer.endpointAddr, peer.endpointPort);
    }
    sealRun();
    this.sendDatagrams(out);
    out.clear();
  }

  /** The packets of the TUN batch being sealed, in the same order as the messages. */
  private readonly srcSpans = new SpanList(64);

  /** Datagrams from the network: opened ahead per session, each packet kept only when its source is in its peer's allowed IPs. */
  private fromNetwork(batch: RxBatch): void {
    const wg = this.wg;
    if (!wg) return;
    const now = wg.time();
    if (this.opened.length < batch.count) {
      this.opened = new Uint32Array(batch.capacity);
      this.openedWith = new Array(batch.capacity);
    }
    wg.openAhead(batch.buf, batch.offsets, batch.sizes, batch.count, this.opened, this.openedWith, now);
    const toTun = this.toTun;
    toTun.reset(batch.buf);
    for (let i = 0; i < batch.count; i++) {
      const off = batch.offset(i);
      const n = wg.receive(batch.buf, off, batch.sizes[i], batch.addrs[2 * i], batch.addrs[2 * i + 1], now, this.opened[i] ?? NOT_OPENED, this.openedWith[i]);
      if (n <= 0) continue; // a handshake, keepalive or refusal (counted by the WireGuard)
      const p = this.byWg.get(wg.lastPeer!);
      if (!p) continue;
      const at = off + TRANSPORT_HEADER;
      const version = batch.buf[at] >>> 4;
      const total = version === 4 && n >= 20 ? get16(batch.buf, at + 2) : version === 6 && n >= IPV6.HEADER ? IPV6.HEADER + get16(batch.buf, at + IPV6.PAYLOAD_LENGTH) : -1;
      if (total < 0 || total > n || n - total >= 16) {
        this.counters.malformed++;
        continue;
      }
      const from = version === 4 ? this.allowed.lookup4(get32(batch.buf, at + 12)) : this.allowed.lookup6(batch.buf, at + 8);
      if (from !== p) {
        this.counters.outsideAllowedIps++;
        continue;
      }
      if (toTun.full) this.flushToTun();
      toTun.add(at, total);
    }
    this.flushToTun();
    this.openedWith.fill(undefined, 0, batch.count);
  }

  private flushToTun(): void {
    if (this.toTun.count === 0) return;
    const { failed } = this.tun.writeBatch(this.toTun);
    this.counters.tunWriteFailed += failed;
    this.toTun.clear();
  }
}

