// One WireGuard peer (wireguard-go device/peer.go): its static key and
// preshared key, its handshake, keypairs and cookie state, the packets held
// while a handshake is under way, its timers as deadlines (timers.ts moves
// them), and what `wg show` reports of it.
import { TxQueue } from '../io/batch.js';
import { CookieGenerator } from './cookie.js';
import { Keypairs } from './keypair.js';
import { Handshake, NoisePeer } from './noise.js';

/** A deadline that is not armed. */
export const NEVER = Infinity;

export class WgPeer implements NoisePeer {
  readonly handshake = new Handshake();
  readonly keypairs = new Keypairs();
  readonly cookies: CookieGenerator;
  /** Packets waiting for a session (allocated when the first one waits). */
  staged?: TxQueue;

  // Timers (timers.ts): each a deadline in ms on the transport's clock, NEVER when not armed.
  retransmitHandshakeAt = NEVER;
  sendKeepaliveAt = NEVER;
  newHandshakeAt = NEVER;
  zeroKeysAt = NEVER;
  /** Retries of the current handshake attempt (given up after MAX_TIMER_HANDSHAKES). */
  handshakeAttempts = 0;
  needAnotherKeepalive = false;
  lastSentHandshake = -Infinity;
  sentLastMinuteHandshake = false;

  // What `wg show` shows.
  /** Wall-clock ms of the last completed handshake, 0 for none. */
  lastHandshakeWallMs = 0;
  /** Transport-clock ms of the last completed handshake (keypair age), -Infinity for none. */
  lastHandshakeAt = -Infinity;
  /** Bytes of WireGuard messages sent to and received from this peer (handshakes included), as `wg show` counts transfer. */
  txWireBytes = 0;
  rxWireBytes = 0;
  /** Handshake initiations this node sent to it. */
  initiationsSent = 0;
  /** Transport-clock ms of the first initiation of the attempt under way, NEVER when none is unanswered. */
  attemptStartedAt = NEVER;
  /** Persistent keepalive (wg's persistent_keepalive_interval), ms; 0 when off. */
  persistentKeepaliveMs = 0;
  /** Transport-clock ms of the last authenticated message sent to it (for the persistent keepalive). */
  lastSentAt = -Infinity;

  /**
   * A peer with no session yet.
   * @param remoteStatic the peer's public key
   * @param staticStatic DH(our static, its static); undefined for a low-order key, with which no handshake is possible
   * @param endpointAddr where its messages go: IPv4, host order (0 with port 0: none known yet, until it roams in)
   * @param endpointPort and UDP port
   */
  constructor(
    readonly publicKey: string,
    readonly remoteStatic: Uint8Array,
    readonly staticStatic: Uint8Array | undefined,
    readonly psk: Uint8Array,
    public endpointAddr: number,
    public endpointPort: number,
  ) {
    this.cookies = new CookieGenerator(remoteStatic);
  }
}
