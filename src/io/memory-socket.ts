// In-memory sockets for unit tests, the fuzz and benchmarks (beside
// MemoryTun, src/tun/memory-tun.ts): they record what the code under test
// sends and refuse what they are told to, as the kernel may. What they
// receive is handed to the code by the test itself. Never touch the
// system; never used by the product itself. MemoryUdp
// (src/overlay/memory-udp.ts) and MemoryIcmp/MemoryIcmp6
// (src/relay/memory-icmp.ts) say how a message is addressed.

/** Records and refuses sends; `D` names a destination (an IPv4 number, IPv6 text), `S` is what is kept of a send. */
export abstract class MemorySocket<D, S> {
  /** What was sent, oldest first (empty when `record` is off). */
  readonly sent: S[] = [];
  /** How many messages left, recorded or not. */
  sentCount = 0;
  /** Destinations whose sends fail, with the errno name the kernel would give. */
  readonly refuse = new Map<D, string>();
  /** Also fails a message of this length when it returns an errno name (the fuzz refuses by length). */
  refuseWhen?: (length: number) => string | undefined;

  /** `record: false` keeps no copies (the fuzz and benchmarks: nothing kept per message). */
  constructor(private readonly record = true) {}

  /** Sends [first, first+count): `dst(i)` names message i, `keep(i, dst)` is what is recorded of it. */
  protected sendEach(first: number, count: number, lengths: ArrayLike<number>, onRefused: (index: number, errnoName: string) => void, dst: (i: number) => D, keep: (i: number, dst: D) => S): number {
    let n = 0;
    for (let i = first; i < first + count; i++) {
      const d = dst(i);
      const errno = this.refuse.get(d) ?? this.refuseWhen?.(lengths[i]);
      if (errno) {
        onRefused(i, errno);
        continue;
      }
      if (this.record) this.sent.push(keep(i, d));
      n++;
    }
    this.sentCount += n;
    return n;
  }

  /** Delivers nothing: the test hands received batches to the code itself. */
  startReading(): void {}
  /** Nothing to stop. */
  stopReading(): void {}
  /** Nothing to close. */
  close(): void {}
}

/** A copy of span i's bytes. */
export const spanCopy = (spans: { buf: Uint8Array; offsets: ArrayLike<number>; lengths: ArrayLike<number> }, i: number): Uint8Array => spans.buf.slice(spans.offsets[i], spans.offsets[i] + spans.lengths[i]);
