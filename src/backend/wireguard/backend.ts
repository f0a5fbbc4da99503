// The wireguard backend: the user-space engine (../tun-engine.ts) with
// WireGuard's transport (./transport.ts) to every node whose lease names a
// key. Besides the udp backend's engine it has a key that SIGHUP may
// replace (published again through the subnet manager), a read-only
// userspace API socket for `wg show`, and per-peer handshake state in
// status.
import { KeyObject } from 'node:crypto';
import type { PeerSecurity, PeerStatus, WireGuardPeerStatus } from '../../control/daemon-status.js';
import type { Peer } from '../../overlay/route-table.js';
import type { TransportContext } from '../../overlay/peer-transport.js';
import type { NodeKeyPair } from '../../wireguard/keys.js';
import type { WgPeer } from '../../wireguard/peer.js';
import { formatUapiGet, UAPI_ERRNO, UapiError } from '../../wireguard/uapi.js';
import { serveUapi } from '../../wg-interface/uapi-server.js';
import type { BackendStatus } from '../backend.js';
import { makeDevices, TunEngineBackend, TunEngineOptions } from '../tun-engine.js';
import { WireGuardTransport } from './transport.js';

export interface WireGuardBackendOptions {
  keys: NodeKeyPair;
  /** The network's preshared key (--preshared-key, or etcd's Backend.PSK). */
  psk?: Uint8Array;
  /** Still talk plaintext to nodes without a key. */
  allowPlaintextPeers?: boolean;
  /** SIGHUP: the key file, and how to read it again (throws with a one-line reason when it cannot). */
  keyFile?: { path: string; read: () => NodeKeyPair };
  /** Publishes a new public key with this node's lease; resolves with what it did. */
  publishKey: (publicKey: string) => Promise<string>;
}

export class WireGuardBackend extends TunEngineBackend {
  override readonly type = 'wireguard' as const;
  private sealed!: WireGuardTransport;
  private keys: NodeKeyPair;
  private closeUapi?: () => void;

  /** Makes the TUN and sockets, the engine with WireGuard's transport, and `wg show`'s socket (without it when another node of a lab holds the path). */
  static async openWireGuard(o: TunEngineOptions, wg: WireGuardBackendOptions): Promise<WireGuardBackend> {
    const backend = new WireGuardBackend(o, wg);
    await backend.serveReadOnlyUapi();
    return backend;
  }

  private constructor(o: TunEngineOptions, private readonly wg: WireGuardBackendOptions) {
    let sealed: WireGuardTransport | undefined;
    super(o, makeDevices(o), (ctx: TransportContext) => (sealed = new WireGuardTransport(ctx, { privateKey: wg.keys.privateKey, psk: wg.psk, allowPlaintextPeers: wg.allowPlaintextPeers })));
    this.sealed = sealed!;
    this.keys = wg.keys;
  }

  override status(): BackendStatus {
    return { ...super.status(), publicKey: this.keys.publicKey };
  }

  protected override peerDetails(peer: Peer): Pick<PeerStatus, 'security' | 'wireguard'> {
    return { security: peerSecurity(peer, this.sealed.allowsPlaintext), ...(peer.wg ? { wireguard: wireguardStatus(peer.wg) } : {}) };
  }

  protected override describeSecurity(): string {
    return ` wireguard (key ${this.keys.publicKey})`;
  }

  /** SIGHUP: a new key from the key file is used at once (the old one carries each peer until the new one has a session) and published. */
  reload(): void {
    const { log } = this.o;
    const { keyFile } = this.wg;
    if (!keyFile) return log.info('SIGHUP: no key file to reload');
    let next: NodeKeyPair;
    try {
      next = keyFile.read();
    } catch (err) {
      return log.warn(`SIGHUP: keeping the current key: ${(err as Error).message}`);
    }
    if (next.publicKey === this.keys.publicKey) return log.info(`SIGHUP: ${keyFile.path} holds the key in use (${next.publicKey}); nothing changed`);
    this.sealed.rotateKey(next.privateKey);
    this.keys = next;
    this.wg.publishKey(next.publicKey).then(
      (what) => log.info(`SIGHUP: new key ${next.publicKey}, ${what}`, { publicKey: next.publicKey }),
      (err: Error) => log.warn(`SIGHUP: new key ${next.publicKey} in use, but publishing it failed (${err.message}); the other nodes will not learn it until it is published`),
    );
  }

  override close(): void {
    this.closeUapi?.();
    super.close();
  }

  /**
   * The overlay's WireGuard as `wg show <tun>` sees it (the userspace API,
   * read-only: its peers come from the leases, and a set answers EPERM). The
   * socket path is the same in every namespace: a second node of a lab on one
   * machine finds it taken and goes on without it, saying so.
   */
  private async serveReadOnlyUapi(): Promise<void> {
    const { tun, port, log } = this.o;
    try {
      const server = await serveUapi(tun, {
        get: () => formatUapiGet(this.sealed.uapiState(privateKeyBytes(this.keys.privateKey), port)),
        set: () => {
          throw new UapiError(UAPI_ERRNO.EPERM, `${tun} is read-only: the overlay's peers come from its leases`);
        },
      });
      this.closeUapi = () => server.close();
    } catch (err) {
      log.warn(`wg show ${tun} will not see this node: ${(err as Error).message}`);
    }
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
