// A session's keys (wireguard-go device/keypair.go): one TransportKey per
// direction on the addon (native/aead.cc), the send counter, the replay
// window of the receive side, and who made it when. A peer holds up to
// three: the previous one (still opening messages in flight), the current
// one and, on the responder, the next one, which becomes current when the
// initiator first uses it.
import { native, NativeTransportKey } from '../native/addon.js';
import { REJECT_AFTER_MESSAGES, REJECT_AFTER_TIME } from './constants.js';
import { ReplayWindow } from './replay-window.js';

/** One WireGuard session's keys (on the addon), send counter and replay window. */
export class Keypair {
  readonly send: NativeTransportKey;
  readonly receive: NativeTransportKey;
  /** The next counter to send; every message, keepalives included, takes one. */
  sendCounter = 0;
  readonly replay = new ReplayWindow();

  /**
   * Takes the two session keys (zeroing the arrays given).
   * @param localIndex the index the peer puts in messages to us (our index table's key)
   * @param remoteIndex the index we put in messages to the peer
   */
  constructor(sendKey: Uint8Array, receiveKey: Uint8Array, readonly isInitiator: boolean, readonly created: number, readonly localIndex: number, readonly remoteIndex: number) {
    this.send = new native.TransportKey(sendKey);
    this.receive = new native.TransportKey(receiveKey);
    sendKey.fill(0);
    receiveKey.fill(0);
  }

  /** Whether it may still seal `count` more messages at `now` (REJECT_AFTER_TIME / _MESSAGES). */
  canSend(now: number, count = 1): boolean {
    return now - this.created < REJECT_AFTER_TIME && this.sendCounter + count <= REJECT_AFTER_MESSAGES;
  }

  /** Wipes both session keys (the session ended or was replaced): nothing is sealed or opened under them again. */
  destroy(): void {
    this.send.destroy();
    this.receive.destroy();
  }

  /** Whether it may still open messages at `now`. */
  canReceive(now: number): boolean {
    return now - this.created < REJECT_AFTER_TIME;
  }
}

/** A peer's keypairs: previous, current and next (the paper, section 6.1). */
export class Keypairs {
  previous?: Keypair;
  current?: Keypair;
  next?: Keypair;

  /** Each keypair held, for index-table upkeep. */
  all(): Keypair[] {
    return [this.previous, this.current, this.next].filter((k): k is Keypair => k !== undefined);
  }
}
