// The relay's NAT of echo identifiers. A flow is one pinger: (source in
// the TUN subnet, destination, identifier). Each flow gets an outgoing
// identifier that is unique per destination, so two pingers using the same
// identifier towards the same host never see each other's replies. The
// pinger's own identifier is kept when it is free (tcpdump stays readable).
// Bounded in size; idle flows expire. Addresses are IPv4 numbers in the
// IPv4 relay (FlowTable) and 8-code-unit keys in the IPv6 one
// (Flow6Table): one table logic over an addressing of each family.
import { Prefix } from '../packet/addr.js';
import { formatIPv6Key, ipv6KeyInPrefix, Prefix6 } from '../packet/addr6.js';

/** One pinger flow: (source, destination, identifier) and the identifier it goes out with. */
export interface Flow<A = number> {
  /** The pinger, as seen in the TUN. */
  src: A;
  dst: A;
  id: number;
  /** The identifier used on the network side. */
  outId: number;
  lastSeen: number;
  requests: number;
  replies: number;
  errors: number;
}

export interface FlowTableOptions {
  maxFlows?: number;
  idleMs?: number;
}

const ID_SPACE = 0x10000;

/** How a table of one family tells its sources apart. */
interface FlowAddressing<A> {
  /** True when `src` lies inside the TUN subnet. */
  owns(src: A): boolean;
  /** A key for (src, id) unique within one destination. */
  innerKey(src: A, id: number): number | string;
}

/** The relay's flows, bounded in number and expired when idle. */
export class FlowTableOf<A extends number | string> {
  readonly maxFlows: number;
  readonly idleMs: number;
  /** dst -> (src, id) key -> flow. */
  private readonly byInner = new Map<A, Map<number | string, Flow<A>>>();
  /** dst -> outId -> flow. */
  private readonly byOuter = new Map<A, Map<number, Flow<A>>>();
  private count = 0;
  private cursor = 0;

  constructor(private readonly addressing: FlowAddressing<A>, options: FlowTableOptions = {}) {
    this.maxFlows = options.maxFlows ?? 4096;
    this.idleMs = options.idleMs ?? 60_000;
  }

  get size(): number {
    return this.count;
  }

  /** True when `src` may originate flows (it lies inside the TUN subnet). */
  ownsSource(src: A): boolean {
    return this.addressing.owns(src);
  }

  /**
   * The flow of a request from the TUN, created if new. Undefined when the
   * source is outside the subnet or the table is full.
   */
  outbound(src: A, dst: A, id: number, now: number): Flow<A> | undefined {
    if (!this.ownsSource(src)) return undefined;
    const key = this.addressing.innerKey(src, id);
    let inner = this.byInner.get(dst);
    let flow = inner?.get(key);
    if (flow) {
      flow.lastSeen = now;
      return flow;
    }
    if (this.count >= this.maxFlows && this.expire(now) === 0) return undefined;
    let outer = this.byOuter.get(dst);
    if (!outer) this.byOuter.set(dst, (outer = new Map()));
    const outId = this.freeId(outer, id);
    if (outId === undefined) return undefined;
    flow = { src, dst, id, outId, lastSeen: now, requests: 0, replies: 0, errors: 0 };
    if (!inner) this.byInner.set(dst, (inner = new Map()));
    inner.set(key, flow);
    outer.set(outId, flow);
    this.count++;
    return flow;
  }

  /** The flow that sent identifier `outId` to `remote`, if any. */
  inbound(remote: A, outId: number): Flow<A> | undefined {
    return this.byOuter.get(remote)?.get(outId);
  }

  /** Removes flows idle for longer than idleMs; returns how many. */
  expire(now: number): number {
    let removed = 0;
    for (const [dst, inner] of this.byInner) {
      for (const [key, flow] of inner) {
        if (now - flow.lastSeen <= this.idleMs) continue;
        inner.delete(key);
        this.byOuter.get(dst)?.delete(flow.outId);
        removed++;
      }
      if (inner.size === 0) {
        this.byInner.delete(dst);
        this.byOuter.delete(dst);
      }
    }
    this.count -= removed;
    return removed;
  }

  /** Every live flow (allocates: for status, not the data path). */
  list(): Array<Flow<A>> {
    return [...this.byInner.values()].flatMap((m) => [...m.values()]);
  }

  private freeId(outer: Map<number, Flow<A>>, preferred: number): number | undefined {
    if (!outer.has(preferred)) return preferred;
    for (let i = 0; i < ID_SPACE; i++) {
      const id = (this.cursor = (this.cursor + 1) & 0xffff);
      if (!outer.has(id)) return id;
    }
    return undefined;
  }
}

/** The IPv4 relay's flows: addresses as numbers, keys as numbers (no string per packet). */
export class FlowTable extends FlowTableOf<number> {
  constructor(subnet: Prefix, options: FlowTableOptions = {}) {
    const size = 2 ** (32 - subnet.length);
    super({ owns: (src) => (src - subnet.network) >>> 0 < size, innerKey: (src, id) => ((src - subnet.network) >>> 0) * ID_SPACE + id }, options);
  }
}

/**
 * The IPv6 relay's flows. outbound() and inbound() take addresses as
 * `ipv6Key` strings (packet/addr6.ts), made from a packet's bytes without
 * formatting (keyed by RFC 5952 text, formatted twice and parsed once per
 * request, the IPv6 relay answered measurably fewer replies per second:
 * docs/benchmarks.md, IPv6); list() gives them as text, as status shows them.
 */
export class Flow6Table extends FlowTableOf<string> {
  constructor(subnet: Prefix6, options: FlowTableOptions = {}) {
    super({ owns: (src) => ipv6KeyInPrefix(src, subnet), innerKey: (src, id) => src + String.fromCharCode(id) }, options);
  }

  /** Every live flow, a copy with its addresses as text (allocates: for status, not the data path). */
  override list(): Array<Flow<string>> {
    return super.list().map((f) => ({ ...f, src: formatIPv6Key(f.src), dst: formatIPv6Key(f.dst) }));
  }
}
