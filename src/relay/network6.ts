// The IPv6 relay's network side: where echo requests leave and replies and
// errors come back. RawIcmp6Socket is the Linux implementation; unit tests
// use a fake with the same contract.
import { RxBatch } from '../io/batch.js';
import { PollLoop } from '../io/poll-loop.js';

/** ICMPv6 messages to send: spans over a buffer someone else owns, each with its destination and hop limit. */
export class Span6List {
  buf: Uint8Array = new Uint8Array(0);
  readonly offsets: Uint32Array;
  readonly lengths: Uint32Array;
  /** 16 bytes of destination per span. */
  readonly dsts: Uint8Array;
  readonly hops: Uint8Array;
  count = 0;

  /** Room for `capacity` spans. */
  constructor(readonly capacity: number) {
    this.offsets = new Uint32Array(capacity);
    this.lengths = new Uint32Array(capacity);
    this.dsts = new Uint8Array(16 * capacity);
    this.hops = new Uint8Array(capacity);
  }

  get full(): boolean {
    return this.count >= this.capacity;
  }

  /** Points the list at another buffer and empties it. */
  reset(buf: Uint8Array): void {
    this.buf = buf;
    this.count = 0;
  }

  /** Adds buf[offset, offset+length) to the 16 bytes at dst[dstOffset], sent with `hopLimit`; returns its index. */
  add(offset: number, length: number, dst: Uint8Array, dstOffset: number, hopLimit: number): number {
    const i = this.count++;
    this.offsets[i] = offset;
    this.lengths[i] = length;
    this.dsts.set(dst.subarray(dstOffset, dstOffset + 16), 16 * i);
    this.hops[i] = hopLimit;
    return i;
  }
}

/** What the IPv6 relay needs from its raw ICMPv6 socket: batch sends and reads. */
export interface Icmp6Network {
  /**
   * Sends spans[first, first+count) — each an ICMPv6 message (no IPv6
   * header; the kernel fills in the checksum) — to its destination with its
   * hop limit. Calls onRefused(i, errnoName) for every message that did not
   * leave. Returns how many left.
   */
  send(spans: Span6List, first: number, count: number, onRefused: (index: number, errnoName: string) => void): number;
  /**
   * Delivers received ICMPv6 messages as whole IPv6 packets, batch by
   * batch: a raw socket gets no IPv6 header, so the network side writes one
   * from what the kernel reported (source, destination, hop limit).
   */
  startReading(batch: RxBatch, onBatch: (batch: RxBatch) => void, onError: (err: Error) => void, loop?: PollLoop): void;
  /** Stops delivering batches. Idempotent. */
  stopReading(): void;
  /** Stops reading and closes the socket. Idempotent. */
  close(): void;
}
