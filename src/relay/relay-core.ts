// The ICMP relay's state machine, once for both families: echo requests that
// local pingers send into the TUN leave through the host's network stack,
// and the replies and errors that come back are written into the TUN as if
// the destination had answered directly. What differs between IPv4 and
// IPv6 (the header views, the flow keys, how an error is written and
// rewritten, how a packet is fragmented, how the socket sends) is the
// family's part: relay.ts (IcmpRelay) and relay6.ts (Icmp6Relay) fill in the
// abstract methods below, over views they own and keep attached to the
// packet at hand.
//
// Contract for every packet: it is relayed, answered, or dropped and
// counted; nothing that is not an echo flow of ours leaves as ICMP, and
// nothing from the network that is not for one of our flows enters the TUN.
// Pure packet logic over a PacketDevice (the TUN) and the family's network
// side, so it runs on the in-memory TUN in unit tests as on the real one.
//
// One TUN carries both families: the relay that reads it (the IPv4 one on
// a dual-stack TUN, else the only one) hands each packet of the other
// family to its partner, and both flush at the end of the batch.
import { RxBatch, SpanList, TxQueue } from '../io/batch.js';
import { PollLoop } from '../io/poll-loop.js';
import { PacketDevice } from '../tun/device.js';
import { Probe } from '../control/probe.js';
import { TokenBucket } from '../util/token-bucket.js';
import { RelayCounters } from './counters.js';
import { Flow, FlowTableOf } from './flow-table.js';
import { Expiring, sweepEvery5s } from './sweeper.js';

/** What both families' relays are configured with. */
export interface RelayCoreOptions {
  tunMtu: number;
  maxFlows?: number;
  flowIdleMs?: number;
  /** Packets per read from either side. */
  batchSize?: number;
  /** ICMP errors the relay may give per second (bursts up to the same number). */
  errorRatePerSecond?: number;
  /** Called with one tcpdump-like line per packet when tracing. */
  trace?: (line: string) => void;
  /** The clock for flow expiry and the error rate limit (tests inject one). */
  now?: () => number;
  /** Called once per batch read, with its size (for metrics). */
  batchObserver?: (side: 'tun' | 'net', size: number) => void;
}

/** The drop reasons both families count under the same names. */
export type RelayCoreReason = 'malformed' | 'not-echo-request' | 'bad-source' | 'flow-table-full' | 'send-failed' | 'tun-write-failed' | 'fragment-failed' | 'net-malformed' | 'error-rate-limited' | 'internal-error' | 'not-icmp';

/** What the shared machine reads of an IP view (IPv4View, IPv6View). */
interface IpLike {
  readonly isFragment: boolean;
  readonly protocol: number;
  readonly totalLength: number;
}

/** What it reads and changes of an ICMP view (IcmpView, Icmp6View). */
interface IcmpLike {
  readonly type: number;
  readonly code: number;
  readonly id: number;
  setId(id: number): unknown;
}

interface FamilyNumbers<R> {
  /** 4 or 6: the IP version nibble of this family's packets. */
  readonly version: number;
  /** What a packet of the other family counts as when there is no partner ('ipv6' or 'ipv4'). */
  readonly otherFamily: R;
  readonly icmpProtocol: number;
  readonly echoRequest: number;
  readonly echoReply: number;
  readonly icmpName: string;
  /** The Destination Unreachable code a router would give for a send the kernel refused with this errno (none: no answer). */
  readonly unreachableFor: Readonly<Record<string, number>>;
}

/** IcmpNetwork and Icmp6Network, as far as reading goes. */
interface NetworkReader {
  startReading(batch: RxBatch, onBatch: (batch: RxBatch) => void, onError: (err: Error) => void, loop?: PollLoop): void;
  stopReading(): void;
}

/** The other family's relay on the same TUN, as the one that reads the TUN sees it. */
export interface RelayPartner {
  /** Takes one packet of its family read from the TUN (buf[off, off+len)); what it queues leaves on flush(). */
  fromTunPacket(buf: Uint8Array, off: number, len: number, now: number): void;
  /** Sends what the packets handed over queued, and writes what they generated. */
  flush(): void;
}

/**
 * One family's ICMP echo relay over a {@link PacketDevice} and a raw socket.
 * `A` is how the family keys addresses in its flow table, `R` its drop reasons.
 * Bad input is counted and dropped, never thrown.
 */
export abstract class RelayCore<A extends number | string, R extends string, C extends RelayCounters<R | RelayCoreReason> = RelayCounters<R | RelayCoreReason>> implements RelayPartner {
  /** Armed by doctor's live probe (see control/probe.ts); on a dual-stack TUN both relays share it. */
  probe?: Probe;
  readonly counters: C;
  readonly flows: FlowTableOf<A>;
  /** The family's views, attached by its methods to the packet at hand. */
  protected abstract readonly ip: IpLike;
  protected abstract readonly icmp: IcmpLike;
  /** The family's numbers: its ICMP's protocol number and echo types, and its name in messages. */
  protected abstract readonly family: FamilyNumbers<R>;
  /** The raw socket's reading side. */
  protected abstract readonly net: NetworkReader;

  protected readonly now: () => number;
  protected readonly trace?: (line: string) => void;
  protected readonly tunMtu: number;
  private readonly tunRx: RxBatch;
  /** The network side's batch (IPv6's leaves room in front of each message for the header its socket writes). */
  private readonly netRx: RxBatch;
  /** Each queued request's flow and IP header offset (in the buffer it was read into), to answer a refused send. */
  private readonly toNetFlow: Array<Flow<A> | undefined>;
  private readonly toNetIpOffset: Uint32Array;
  /** The buffer the queued requests point into. */
  protected toNetBuf: Uint8Array = new Uint8Array(0);
  private queued = 0;
  /** Index of the probe's request in the queue, while it waits to be sent. */
  private probeSpan = -1;
  /** Replies and relayed errors to write: spans into the network batch's buffer (no copy). */
  private readonly toTun: SpanList;
  /** Packets the relay builds itself (errors, fragments), written after toTun. */
  private readonly generated: TxQueue;
  protected readonly scratch: Uint8Array;
  /** Sends the kernel refused during a flush, answered once it is over (see flushToNetwork). */
  private readonly refusedIndex: Uint32Array;
  private readonly refusedErrno: string[];
  private refusedCount = 0;
  private readonly errorBudget: TokenBucket;
  private sweeper?: NodeJS.Timeout;
  private partner?: RelayPartner;
  readonly batchSize: number;

  /** `netHeadroom`: bytes the network side writes in front of each message it reads (IPv6's header). */
  protected constructor(private readonly tun: PacketDevice, private readonly coreOptions: RelayCoreOptions, parts: { counters: C; flows: FlowTableOf<A>; netHeadroom: number }) {
    this.counters = parts.counters;
    this.flows = parts.flows;
    const netHeadroom = parts.netHeadroom;
    this.now = coreOptions.now ?? Date.now;
    this.trace = coreOptions.trace;
    this.tunMtu = coreOptions.tunMtu;
    const batch = (this.batchSize = coreOptions.batchSize ?? 64);
    const tunSlot = Math.max(2048, coreOptions.tunMtu);
    this.tunRx = new RxBatch(batch, tunSlot);
    this.netRx = new RxBatch(batch, 65536 + netHeadroom, netHeadroom);
    this.toNetFlow = new Array(batch).fill(undefined);
    this.toNetIpOffset = new Uint32Array(batch);
    this.refusedIndex = new Uint32Array(batch);
    this.refusedErrno = new Array<string>(batch).fill('');
    this.toTun = new SpanList(batch);
    this.generated = new TxQueue(256, tunSlot);
    this.scratch = new Uint8Array(65536 + 40);
    this.errorBudget = new TokenBucket(coreOptions.errorRatePerSecond ?? 100, this.now);
  }

  // ---- The family's part: the TUN side. Each works on the packet the last attachFromTun() (or a reassembly) attached.

  /** Attaches the views to a packet read from the TUN; a drop reason when it is not a valid packet of this family. */
  protected abstract attachFromTun(buf: Uint8Array, off: number, len: number): R | RelayCoreReason | undefined;
  /** A fragment whose payload cannot be an echo request (IPv4 knows from the first fragment's protocol): refused, not reassembled. */
  protected abstract fragmentIsRefused(): boolean;
  /** Adds the fragment; the whole packet when complete, a drop reason, or undefined while waiting. */
  protected abstract reassemble(now: number): Uint8Array | R | undefined;
  /** Attaches the ICMP view; false when the message is malformed. */
  protected abstract attachIcmp(): boolean;
  /** Messages of the link itself (IPv6's router and neighbour solicitations, MLD): counted by the family, never relayed. */
  protected abstract isLinkChatter(): boolean;
  protected abstract isProbeRequest(): boolean;
  /** A destination no echo may be relayed to (broadcast, multicast), as a drop reason. */
  protected abstract refusedDestination(): R | undefined;
  /** May a non-ICMP packet be answered with an error at all (not a fragment, broadcast, ...)? */
  protected abstract mayRefuse(): boolean;
  protected abstract srcKey(): A;
  protected abstract dstKey(): A;
  /** One tcpdump-like line of the packet at hand (with its ICMP header when attached). */
  protected abstract describe(withIcmp: boolean): string;
  /** Queues the request at hand (its ICMP message, to its destination with its TTL/hop limit) at index `k` of the family's send list. */
  protected abstract queueRequest(k: number): void;
  /** Sends queued requests [0, count); calls onRefused(i, errno) for each that did not leave; returns how many left. */
  protected abstract sendQueued(count: number, onRefused: (index: number, errno: string) => void): number;
  /** Writes an ICMP error about the packet at hand (from its destination) at b[o]; returns its length. */
  protected abstract writeError(b: Uint8Array, o: number, kind: 'prohibited' | 'errno', errno?: string): number;
  /** Re-attaches the views to queued request `i` (a refused send), its identifier back to the pinger's; false when it cannot be answered. */
  protected abstract attachRefused(buf: Uint8Array, ipOffset: number, pingerId: number): boolean;

  // ---- The family's part: the network side.

  /** Attaches the views to a packet from the socket; false when it is not a valid ICMP packet of this family. */
  protected abstract attachFromNetwork(buf: Uint8Array, off: number, len: number): boolean;
  /** Is the destination inside the TUN subnet (our own output, seen again by the raw socket)? */
  protected abstract dstInSubnet(): boolean;
  /** Points the reply at the pinger: destination and identifier (checksums kept right). */
  protected abstract rewriteReply(flow: Flow<A>): void;
  /** Reads the quote of an error; the flow it is about (only a request we sent: from one of this host's addresses), if any. */
  protected abstract flowOfError(): Flow<A> | undefined;
  /** Points the error at the pinger (outer destination, quoted source and identifier); counts what the family counts. */
  protected abstract rewriteError(flow: Flow<A>): void;
  /** The source of the packet at hand, as text (for the probe's note). */
  protected abstract srcText(): string;
  /** Fragments the packet at hand to `mtu` (the relay is its source on that link), calling emit per fragment; false when it cannot. */
  protected abstract fragment(mtu: number, emit: (buf: Uint8Array, off: number, len: number) => void): boolean;

  // ---- The shared machine.

  /** The other family's relay on this TUN: its packets go there instead of being dropped. */
  protected setPartner(partner: RelayPartner | undefined): void {
    this.partner = partner;
  }

  /**
   * Starts reading the network side and, with `readTun`, the TUN. `onError` gets a TunDriverError `TUN_ERR_IO` when the TUN or socket fails for good.
   * With `loop`, both wait in its poll() instead of libuv callbacks (io/poll-loop.ts).
   */
  protected startReading(onError: (err: Error) => void, loop: PollLoop | undefined, readTun: boolean, sweep: Expiring[]): void {
    if (readTun) this.tun.startReading(this.tunRx, (b) => this.fromTun(b), onError, loop);
    this.net.startReading(this.netRx, (b) => this.fromNetwork(b), onError, loop);
    this.sweeper = sweepEvery5s(this.now, [this.flows, ...sweep]);
  }


  /** Stops reading both sides; the device and socket stay open. */
  stop(): void {
    this.tun.stopReading();
    this.net.stopReading();
    if (this.sweeper) clearInterval(this.sweeper);
  }

  /** One batch read from the TUN: requests out to the network, answers back into the TUN; the other family's packets to the partner. */
  fromTun(batch: RxBatch): void {
    this.coreOptions.batchObserver?.('tun', batch.count);
    const now = this.now();
    for (let i = 0; i < batch.count; i++) {
      const off = batch.offset(i);
      const len = batch.sizes[i];
      const version = len > 0 ? batch.buf[off] >> 4 : 0;
      if (version !== this.family.version && (version === 4 || version === 6)) {
        if (this.partner) this.partner.fromTunPacket(batch.buf, off, len, now);
        else this.counters.drop(this.family.otherFamily);
        continue;
      }
      this.fromTunPacket(batch.buf, off, len, now);
    }
    this.flush();
    this.partner?.flush();
  }

  /** One packet of this family read from the TUN; what it queues leaves on {@link RelayCore.flush}. */
  fromTunPacket(buf: Uint8Array, off: number, len: number, now: number): void {
    try {
      if (this.toNetBuf !== buf) {
        this.flushToNetwork();
        this.toNetBuf = buf;
      }
      this.requestFromTun(buf, off, len, now);
    } catch {
      this.counters.drop('internal-error');
    }
  }

  /** Sends what the TUN side queued and writes what it generated. */
  flush(): void {
    this.flushToNetwork();
    this.flushGenerated();
  }

  private requestFromTun(buf: Uint8Array, off: number, len: number, now: number): void {
    const { counters } = this;
    const problem = this.attachFromTun(buf, off, len);
    if (problem !== undefined) return counters.drop(problem);
    if (this.ip.isFragment) {
      if (this.fragmentIsRefused()) return this.refuseNonIcmp();
      counters.fragmentsIn++;
      this.trace?.(`tun>    ${this.describe(false)}`);
      const whole = this.reassemble(now);
      if (whole === undefined) return;
      if (typeof whole === 'string') return counters.drop(whole);
      counters.reassembled++;
      // A reassembled request lives in its own buffer: send it on its own.
      const saved = this.toNetBuf;
      this.flushToNetwork();
      this.toNetBuf = whole;
      this.requestFromTun(whole, 0, whole.length, now);
      this.flushToNetwork();
      this.toNetBuf = saved;
      return;
    }
    if (this.ip.protocol !== this.family.icmpProtocol) return this.refuseNonIcmp();
    if (!this.attachIcmp()) return counters.drop('malformed');
    if (this.isLinkChatter()) return;
    if (this.icmp.type !== this.family.echoRequest) return counters.drop('not-echo-request');
    const probing = this.isProbeRequest();
    if (probing) this.probe!.mark('tun-in');
    const refused = this.refusedDestination();
    if (refused !== undefined) return this.dropProbe(probing, refused);
    const src = this.srcKey();
    const flow = this.flows.outbound(src, this.dstKey(), this.icmp.id, now);
    if (!flow) return this.dropProbe(probing, this.flows.ownsSource(src) ? 'flow-table-full' : 'bad-source');
    this.trace?.(`tun>net ${this.describe(true)}${flow.outId !== flow.id ? ` (out id ${flow.outId})` : ''}`);
    this.icmp.setId(flow.outId); // (IPv6: the kernel computes the checksum of what a raw ICMPv6 socket sends)
    flow.requests++;
    counters.requestBytes += this.ip.totalLength;
    if (this.queued === this.batchSize) this.flushToNetwork();
    const k = this.queued++;
    this.queueRequest(k);
    this.toNetFlow[k] = flow;
    this.toNetIpOffset[k] = off;
    if (probing) this.probeSpan = k;
  }

  private dropProbe(probing: boolean, reason: R | RelayCoreReason): void {
    if (probing) this.probe!.stoppedBecause = `the relay dropped it: ${reason}`;
    this.counters.drop(reason);
  }

  private flushToNetwork(): void {
    if (this.queued === 0) return;
    this.counters.requests += this.sendQueued(this.queued, this.onSendRefused);
    // Refusals were only queued during the sends: answer them now, with the
    // views re-attached, so nothing in flight was re-pointed under us.
    for (let r = 0; r < this.refusedCount; r++) this.sendRefused(this.refusedIndex[r], this.refusedErrno[r]);
    this.refusedCount = 0;
    if (this.probeSpan >= 0) this.probe?.mark('sent'); // not refused (sendRefused clears it)
    this.probeSpan = -1;
    this.toNetFlow.fill(undefined, 0, this.queued);
    this.queued = 0;
  }

  /** Queues a refused send (index in the queue, errno name); flushToNetwork answers them after its sends. */
  private readonly onSendRefused = (i: number, errno: string): void => {
    this.refusedIndex[this.refusedCount] = i;
    this.refusedErrno[this.refusedCount++] = errno;
  };

  /** The kernel would not send request i: tell the pinger as a router would. */
  private sendRefused(i: number, errno: string): void {
    this.counters.drop('send-failed');
    if (i === this.probeSpan) {
      this.probe!.stoppedBecause = `the kernel refused to send it: ${errno}`;
      this.probeSpan = -1;
    }
    const flow = this.toNetFlow[i];
    if (!flow || this.family.unreachableFor[errno] === undefined) return;
    if (!this.attachRefused(this.toNetBuf, this.toNetIpOffset[i], flow.id)) return; // quote what the pinger sent
    this.giveError('errno', errno);
  }

  /**
   * TCP, UDP and other protocols cannot be relayed as ICMP. Answer as a
   * filtering router would (Destination Unreachable, administratively
   * prohibited) so the sender fails fast, from the destination's address (a
   * TUN-subnet or local source would be a martian).
   */
  private refuseNonIcmp(): void {
    // A source outside the TUN subnet gets no answer, as an echo request from it would not.
    if (!this.flows.ownsSource(this.srcKey())) return this.counters.drop('bad-source');
    if (!this.mayRefuse()) return this.counters.drop('not-icmp');
    this.trace?.(`tun>    ${this.describe(false)} refused: not ${this.family.icmpName}`);
    this.giveError('prohibited');
  }

  private giveError(kind: 'prohibited' | 'errno', errno?: string): void {
    if (!this.errorBudget.take()) return this.counters.drop('error-rate-limited');
    const g = this.generated;
    if (g.full) this.flushGenerated();
    const o = g.nextOffset;
    const len = this.writeError(g.buf, o, kind, errno);
    g.commit(len);
    this.counters.errorsGenerated++;
    this.trace?.(`   >tun ${this.describeGenerated(g.buf, o, len)} (from the relay)`);
  }

  /** One tcpdump-like line of a packet the relay built (tracing only: may allocate). */
  protected abstract describeGenerated(buf: Uint8Array, off: number, len: number): string;

  /** One batch read from the network socket: replies and errors for our flows into the TUN. */
  fromNetwork(batch: RxBatch): void {
    this.coreOptions.batchObserver?.('net', batch.count);
    const now = this.now();
    this.toTun.reset(batch.buf);
    this.generated.clear();
    for (let i = 0; i < batch.count; i++) {
      try {
        this.answerFromNetwork(batch.buf, batch.offset(i), batch.sizes[i], now);
      } catch {
        this.counters.drop('internal-error');
      }
    }
    this.flushToTun();
    this.flushGenerated();
  }

  private answerFromNetwork(buf: Uint8Array, off: number, len: number, now: number): void {
    const { counters } = this;
    if (!this.attachFromNetwork(buf, off, len)) return counters.drop('net-malformed');
    // What the relay writes into the TUN is delivered on this host, and a
    // raw socket gets a copy of every ICMP packet delivered here: anything
    // addressed into the TUN subnet is our own output coming round again
    // (answers from the network are addressed to the host's outgoing address).
    if (this.dstInSubnet()) {
      counters.ownCopies++;
      return;
    }
    let flow: Flow<A> | undefined;
    if (this.icmp.type === this.family.echoReply) {
      flow = this.flows.inbound(this.srcKey(), this.icmp.id);
      if (!flow) {
        counters.ignored++;
        return;
      }
      this.rewriteReply(flow);
      flow.replies++;
      counters.replies++;
      if (this.probe?.icmpId === flow.id) this.probe.mark('from-network');
    } else {
      flow = this.flowOfError();
      if (!flow) {
        counters.ignored++; // echo requests to this host, other hosts' pings, redirects, errors about others' packets
        return;
      }
      this.rewriteError(flow);
      flow.errors++;
      counters.errorsRelayed++;
      if (this.probe?.icmpId === flow.id) {
        this.probe.mark('from-network');
        this.probe.stoppedBecause = `the network answered with an ${this.family.icmpName} error (type ${this.icmp.type} code ${this.icmp.code}) from ${this.srcText()}`;
      }
    }
    flow.lastSeen = now;
    this.trace?.(`net>tun ${this.describe(true)}`);
    const total = this.ip.totalLength;
    counters.replyBytes += total;
    if (total <= this.tunMtu) {
      if (this.toTun.full) this.flushToTun();
      this.toTun.add(off, total);
      return;
    }
    // Bigger than the TUN's MTU (a reply to ping -s 3000): hand it over in
    // fragments, as the link would have delivered it.
    counters.repliesFragmented++;
    const g = this.generated;
    const ok = this.fragment(this.tunMtu, (fb, fo, fl) => {
      if (g.full) this.flushGenerated();
      g.push(fb.subarray(fo, fo + fl));
    });
    if (!ok) counters.drop('fragment-failed');
  }

  private flushToTun(): void {
    this.writeToTun(this.toTun);
  }

  private flushGenerated(): void {
    this.writeToTun(this.generated);
  }

  /** Writes a queue into the TUN (replies, or what the relay built) and empties it. */
  private writeToTun(q: SpanList | TxQueue): void {
    if (q.count === 0) return;
    const { failed } = this.tun.writeBatch(q);
    if (failed) this.counters.drop('tun-write-failed', failed);
    else if (this.probe?.reached.has('from-network')) this.probe.mark('tun-out');
    q.clear();
  }
}
