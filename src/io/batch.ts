// Preallocated, batch-shaped packet memory, in two shapes:
//
// - RxBatch, what a read fills: `slots` slots of `slotSize` bytes in one
//   buffer, and entries (offset, size, source address) pointing into them.
//   A plain read puts one packet in each slot (`headroom` bytes in, so an
//   outer header can later be written in place in front of it); a UDP GRO
//   read puts many datagrams in one slot, and the socket layer splits that
//   slot into one entry per datagram. Readers set `count`; consumers see
//   only entries. The shape of wireguard-go's tun.Device Read(bufs, sizes,
//   offset).
// - Spans, what a write takes: packet i is buf[offsets[i], +lengths[i]),
//   addressed to addrs[2i] (host-order IPv4) : addrs[2i+1] (port) where a
//   socket needs it. A SpanList points into a buffer it does not own
//   (zero copy: send what was just read, rewritten in place); a TxQueue owns
//   slot memory for packets built in place (errors, fragments).
//
// Each is emptied one way, clear(). Nothing is allocated per packet.

/** Packets to write or send: entry i is buf[offsets[i], offsets[i] + lengths[i]), to addrs[2i]:addrs[2i+1] where a socket needs an address. */
export interface Spans {
  buf: Uint8Array;
  offsets: Uint32Array;
  lengths: Uint32Array;
  addrs: Uint32Array;
  count: number;
}

/**
 * Receive memory: `slots` fixed-size slots that batch reads fill, and entries (offsets, sizes, addresses) that say where each packet is.
 * One read refills it; nothing is allocated per packet.
 */
export class RxBatch {
  readonly buf: Uint8Array;
  /** Entry i: the packet at buf[offsets[i], offsets[i] + sizes[i]). */
  readonly offsets: Uint32Array;
  readonly sizes: Uint32Array;
  /** [addr, port] per entry for datagram sockets (host-order IPv4). */
  readonly addrs: Uint32Array;
  /** Entries filled by the last read. */
  count = 0;
  /** How many entries fit: `slots` for plain reads, more where a slot may hold several datagrams. */
  readonly capacity: number;

  /**
   * `headroom` bytes are kept free before each slot's packet; `entries` (default `slots`) may exceed `slots` where one slot holds several datagrams (UDP GRO).
   * @throws RangeError when slots is 0, headroom fills the slot, or entries < slots.
   */
  constructor(readonly slots: number, readonly slotSize: number, readonly headroom = 0, entries = slots) {
    if (!(slots > 0 && slotSize > headroom && entries >= slots)) throw new RangeError('RxBatch needs slots > 0, slotSize > headroom and entries >= slots');
    this.buf = new Uint8Array(slots * slotSize);
    this.capacity = entries;
    this.offsets = new Uint32Array(entries);
    this.sizes = new Uint32Array(entries);
    this.addrs = new Uint32Array(entries * 2);
  }

  /** Where a read puts the packet of slot s. */
  slotOffset(s: number): number {
    return s * this.slotSize + this.headroom;
  }

  /** Bytes a read may put in one slot. */
  get slotRoom(): number {
    return this.slotSize - this.headroom;
  }

  /** Offset in `buf` of entry i. */
  offset(i: number): number {
    return this.offsets[i];
  }

  /** After a plain read of n packets (sizes[0..n) filled): entry i is slot i. */
  setSlotEntries(n: number): number {
    for (let i = 0; i < n; i++) this.offsets[i] = i * this.slotSize + this.headroom;
    this.count = n;
    return n;
  }

  /** Does what a read does for one packet: copies `data` into the next slot as a new entry (the in-memory TUN, tests). */
  append(data: Uint8Array, addr = 0, port = 0): number {
    if (this.count >= this.slots) throw new RangeError('RxBatch is full');
    if (data.length > this.slotRoom) throw new RangeError('packet larger than a batch slot');
    const i = this.count++;
    this.offsets[i] = this.slotOffset(i);
    this.sizes[i] = data.length;
    this.addrs[2 * i] = addr;
    this.addrs[2 * i + 1] = port;
    this.buf.set(data, this.offsets[i]);
    return i;
  }

  /** A view of entry i (allocates: for tests and slow paths). */
  packet(i: number): Uint8Array {
    const o = this.offsets[i];
    return this.buf.subarray(o, o + this.sizes[i]);
  }

  /** Forgets the last read (count 0); the memory stays. */
  clear(): void {
    this.count = 0;
  }
}

/** Spans over a buffer someone else owns (e.g. packets still in an {@link RxBatch}): zero-copy sends and writes. */
export class SpanList implements Spans {
  buf: Uint8Array = new Uint8Array(0);
  readonly offsets: Uint32Array;
  readonly lengths: Uint32Array;
  readonly addrs: Uint32Array;
  count = 0;

  /** Room for `capacity` spans. */
  constructor(readonly capacity: number) {
    this.offsets = new Uint32Array(capacity);
    this.lengths = new Uint32Array(capacity);
    this.addrs = new Uint32Array(capacity * 2);
  }

  /** Spans over a fresh buffer that holds `packets` back to back, each to addr:port (allocates: tests and slow paths). */
  static copyOf(packets: readonly Uint8Array[], addr = 0, port = 0): SpanList {
    const spans = new SpanList(Math.max(1, packets.length));
    spans.reset(new Uint8Array(packets.reduce((n, p) => n + p.length, 0)));
    let at = 0;
    for (const p of packets) {
      spans.buf.set(p, at);
      spans.add(at, p.length, addr, port);
      at += p.length;
    }
    return spans;
  }

  /** Empties the list and points it at `buf`. */
  reset(buf: Uint8Array): void {
    this.buf = buf;
    this.count = 0;
  }

  /** Empties the list (the buffer stays). */
  clear(): void {
    this.count = 0;
  }

  get full(): boolean {
    return this.count >= this.capacity;
  }

  /** Appends buf[offset, offset+length) (to addr:port); returns its index. The caller checks `full` first. */
  add(offset: number, length: number, addr = 0, port = 0): number {
    const i = this.count++;
    this.offsets[i] = offset;
    this.lengths[i] = length;
    this.addrs[2 * i] = addr;
    this.addrs[2 * i + 1] = port;
    return i;
  }
}

/** Spans over memory of its own: one slot per packet, built in place. */
export class TxQueue extends SpanList {
  /**
   * `capacity` slots of `slotSize` bytes.
   * @throws RangeError when either is 0.
   */
  constructor(capacity: number, readonly slotSize: number) {
    super(capacity);
    if (!(capacity > 0 && slotSize > 0)) throw new RangeError('TxQueue needs capacity > 0 and slotSize > 0');
    this.buf = new Uint8Array(capacity * slotSize);
  }

  override reset(): void {
    throw new Error('a TxQueue owns its buffer: use clear()');
  }

  /** Where the next packet goes: build it at buf[nextOffset], then commit() it. */
  get nextOffset(): number {
    return this.count * this.slotSize;
  }

  /** Queues the packet just built at nextOffset (`length` bytes, to addr:port where a socket needs it); returns its index. */
  commit(length: number, addr = 0, port = 0): number {
    if (this.count >= this.capacity) throw new RangeError('TxQueue is full');
    if (length > this.slotSize) throw new RangeError('packet larger than a queue slot');
    return this.add(this.nextOffset, length, addr, port);
  }

  /** Copies `data` into the next slot and queues it; returns its index. */
  push(data: Uint8Array, addr = 0, port = 0): number {
    if (this.count >= this.capacity) throw new RangeError('TxQueue is full');
    if (data.length > this.slotSize) throw new RangeError('packet larger than a queue slot');
    this.buf.set(data, this.nextOffset);
    return this.commit(data.length, addr, port);
  }
}

/** Datagrams to send to IPv6 addresses (the IPv6 relay's ICMPv6 messages, the IPv6 underlay's UDP): spans over a buffer someone else owns, each with its 16-byte destination and hop limit. */
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
