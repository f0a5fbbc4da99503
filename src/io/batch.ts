// Preallocated, batch-shaped packet memory (the shape of wireguard-go's
// tun.Device Read(bufs, sizes, offset)): `capacity` slots of `slotSize`
// bytes in one buffer, each packet stored `headroom` bytes into its slot so
// an outer header can later be written in place in front of it. Readers
// fill `sizes` and `count`; nothing is allocated per packet.

/**
 * Packets to send, as spans of one buffer: packet i is
 * buf[offsets[i], offsets[i] + lengths[i]), addressed to addrs[2i] (host-order
 * IPv4) : addrs[2i+1] (port) where the socket needs it. A PacketBatch is
 * one; a SpanList points into a buffer it does not own (zero-copy: send what
 * was just read, rewritten in place).
 */
export interface Spans {
  buf: Uint8Array;
  offsets: Uint32Array;
  lengths: Uint32Array;
  addrs: Uint32Array;
  count: number;
}

export class SpanList implements Spans {
  buf: Uint8Array = new Uint8Array(0);
  readonly offsets: Uint32Array;
  readonly lengths: Uint32Array;
  readonly addrs: Uint32Array;
  count = 0;

  constructor(readonly capacity: number) {
    this.offsets = new Uint32Array(capacity);
    this.lengths = new Uint32Array(capacity);
    this.addrs = new Uint32Array(capacity * 2);
  }

  /** Empties the list and points it at `buf`. */
  reset(buf: Uint8Array): void {
    this.buf = buf;
    this.count = 0;
  }

  get full(): boolean {
    return this.count >= this.capacity;
  }

  add(offset: number, length: number, addr = 0, port = 0): number {
    const i = this.count++;
    this.offsets[i] = offset;
    this.lengths[i] = length;
    this.addrs[2 * i] = addr;
    this.addrs[2 * i + 1] = port;
    return i;
  }
}

export class PacketBatch implements Spans {
  readonly buf: Uint8Array;
  readonly sizes: Uint32Array;
  /** [addr, port] per slot for datagram sockets (host-order IPv4). */
  readonly addrs: Uint32Array;
  /** Write-side spans: where each outgoing packet starts and how long it is. */
  readonly offsets: Uint32Array;
  readonly lengths: Uint32Array;
  /** How many slots hold packets after a read (or are queued for a write). */
  count = 0;

  constructor(readonly capacity: number, readonly slotSize: number, readonly headroom = 0) {
    if (!(capacity > 0 && slotSize > headroom)) throw new RangeError('PacketBatch needs capacity > 0 and slotSize > headroom');
    this.buf = new Uint8Array(capacity * slotSize);
    this.sizes = new Uint32Array(capacity);
    this.addrs = new Uint32Array(capacity * 2);
    this.offsets = new Uint32Array(capacity);
    this.lengths = new Uint32Array(capacity);
  }

  /** Offset in `buf` of the packet in slot i. */
  offset(i: number): number {
    return i * this.slotSize + this.headroom;
  }

  /** A view of the packet in slot i (allocates: for tests and slow paths). */
  packet(i: number): Uint8Array {
    const o = this.offset(i);
    return this.buf.subarray(o, o + this.sizes[i]);
  }

  get full(): boolean {
    return this.count >= this.capacity;
  }

  /** Where the next packet goes: build it at buf[nextOffset], then commit() it. */
  get nextOffset(): number {
    return this.offset(this.count);
  }

  /** Queues the packet just built at nextOffset (`length` bytes, to addr:port where a socket needs it); returns its index. */
  commit(length: number, addr = 0, port = 0): number {
    if (this.count >= this.capacity) throw new RangeError('PacketBatch is full');
    if (length > this.slotSize - this.headroom) throw new RangeError('packet larger than a batch slot');
    const i = this.count++;
    const o = this.offset(i);
    this.sizes[i] = length;
    this.offsets[i] = o;
    this.lengths[i] = length;
    this.addrs[2 * i] = addr;
    this.addrs[2 * i + 1] = port;
    return i;
  }

  /** Copies `data` into the next slot and queues it; returns its index. */
  push(data: Uint8Array, addr = 0, port = 0): number {
    if (this.count >= this.capacity) throw new RangeError('PacketBatch is full');
    if (data.length > this.slotSize - this.headroom) throw new RangeError('packet larger than a batch slot');
    this.buf.set(data, this.nextOffset);
    return this.commit(data.length, addr, port);
  }

  clear(): void {
    this.count = 0;
  }
}
