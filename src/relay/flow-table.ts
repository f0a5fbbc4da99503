// The relay's NAT of echo identifiers. A flow is one pinger: (source in
// the TUN subnet, destination, identifier). Each flow gets an outgoing
// identifier that is unique per destination, so two pingers using the same
// identifier towards the same host never see each other's replies. The
// pinger's own identifier is kept when it is free (tcpdump stays readable).
// Bounded in size; idle flows expire.
import { Prefix } from '../packet/addr.js';

/** One pinger flow: (source, destination, identifier) and the identifier it goes out with. */
export interface Flow {
  /** The pinger, as seen in the TUN. */
  src: number;
  dst: number;
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

/** The relay's flows, bounded in number and expired when idle. */
export class FlowTable {
  readonly maxFlows: number;
  readonly idleMs: number;
  private readonly hostBits: number;
  /** dst -> (srcOffset * 65536 + id) -> flow. Numeric keys: no string per packet. */
  private readonly byInner = new Map<number, Map<number, Flow>>();
  /** dst -> outId -> flow. */
  private readonly byOuter = new Map<number, Map<number, Flow>>();
  private count = 0;
  private cursor = 0;

  constructor(private readonly subnet: Prefix, options: FlowTableOptions = {}) {
    this.maxFlows = options.maxFlows ?? 4096;
    this.idleMs = options.idleMs ?? 60_000;
    this.hostBits = 32 - subnet.length;
  }

  get size(): number {
    return this.count;
  }

  /** True when `src` may originate flows (it lies inside the TUN subnet). */
  ownsSource(src: number): boolean {
    return (src - this.subnet.network) >>> 0 < 2 ** this.hostBits;
  }

  /**
   * The flow of a request from the TUN, created if new. Undefined when the
   * source is outside the subnet or the table is full.
   */
  outbound(src: number, dst: number, id: number, now: number): Flow | undefined {
    if (!this.ownsSource(src)) return undefined;
    const key = ((src - this.subnet.network) >>> 0) * ID_SPACE + id;
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
  inbound(remote: number, outId: number): Flow | undefined {
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
  list(): Flow[] {
    return [...this.byInner.values()].flatMap((m) => [...m.values()]);
  }

  private freeId(outer: Map<number, Flow>, preferred: number): number | undefined {
    if (!outer.has(preferred)) return preferred;
    for (let i = 0; i < ID_SPACE; i++) {
      const id = (this.cursor = (this.cursor + 1) & 0xffff);
      if (!outer.has(id)) return id;
    }
    return undefined;
  }
}
