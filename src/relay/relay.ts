// The ICMP relay: echo requests that local pingers send into the TUN leave
// through the host's network stack, and the replies and errors that come
// back are written into the TUN as if the destination had answered
// directly. This file is pure packet logic over a PacketDevice (the TUN)
// and an IcmpNetwork (the socket side), so it runs on the in-memory TUN in
// unit tests exactly as on the real one.
//
// Contract for every packet: it is relayed, answered, or dropped and
// counted; nothing that is not an echo flow of ours leaves as ICMP, and
// nothing from the network that is not for one of our flows enters the TUN.
import { RxBatch, SpanList, TxQueue } from '../io/batch.js';
import { PollLoop } from '../io/poll-loop.js';
import { formatIPv4, Prefix, prefixMask } from '../packet/addr.js';
import { describeIPv4 } from '../packet/describe.js';
import { fragmentIPv4, Reassembler } from '../packet/fragment.js';
import { IPv4View, IPPROTO, IPV4 } from '../packet/ipv4.js';
import { IcmpView, ICMP_TYPE, ICMP_UNREACH } from '../packet/icmp.js';
import { PacketDevice } from '../tun/device.js';
import { DropReason, RelayCounters } from './counters.js';
import { isProbePacket, Probe } from '../control/probe.js';
import { Flow, FlowTable } from './flow-table.js';
import { mayAnswerWithError, Quote, readQuote, rewriteError, writeIcmpError } from '../packet/icmp-errors.js';
import { IcmpNetwork } from './network.js';
import { Icmp6Relay } from './relay6.js';
import { TokenBucket } from '../util/token-bucket.js';
import { sweepEvery5s } from './sweeper.js';

/** How an {@link IcmpRelay} is configured. */
export interface RelayOptions {
  /** The TUN's address and prefix: pingers must use a source inside it. */
  subnet: Prefix;
  tunMtu: number;
  /** Addresses of the relay host: an error *from* one of them (ARP failure) would be a martian in the TUN. */
  localAddresses?: ReadonlySet<number>;
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
  /** The IPv6 relay on the same TUN: IPv6 packets read from it go there instead of being dropped as `ipv6`. */
  ipv6?: Icmp6Relay;
}

const ERROR_CODE_FOR_ERRNO: Record<string, number> = { ENETUNREACH: ICMP_UNREACH.NET, EHOSTUNREACH: ICMP_UNREACH.HOST, EACCES: ICMP_UNREACH.ADMIN_PROHIBITED, EPERM: ICMP_UNREACH.ADMIN_PROHIBITED };

/**
 * The ICMP echo relay over a {@link PacketDevice} and an {@link IcmpNetwork}: pings written into the TUN go out through the host,
 * replies and errors come back into the TUN as if the network had answered the pinger. Bad input is counted and dropped, never thrown.
 */
export class IcmpRelay {
  readonly counters = new RelayCounters();
  /** Armed by doctor's live probe (see control/probe.ts). */
  probe?: Probe;
  /** Index in toNet of the probe's request, while it waits to be sent. */
  private probeSpan = -1;
  readonly flows: FlowTable;
  private readonly reassembler = new Reassembler();
  private readonly now: () => number;
  private readonly trace?: (line: string) => void;
  private readonly broadcast: number;
  private readonly local: ReadonlySet<number>;

  // Preallocated per-batch state.
  private readonly tunRx: RxBatch;
  private readonly netRx: RxBatch;
  /** Requests to send: spans into tunRx.buf (ICMP part), with their TTL and IP header offset. */
  private readonly toNet: SpanList;
  private readonly toNetTtl: Uint8Array;
  private readonly toNetIpOffset: Uint32Array;
  /** Replies/errors to write: spans into netRx.buf. */
  private readonly toTun: SpanList;
  /** Packets the relay builds itself (errors, fragments), written after toTun. */
  private readonly generated: TxQueue;
  private readonly scratch: Uint8Array;
  private readonly ip = new IPv4View();
  private readonly icmp = new IcmpView();
  /** Sends the kernel refused during a flush, answered once it is over (see flushToNetwork). */
  private readonly refusedIndex: Uint32Array;
  private readonly refusedErrno: string[];
  private refusedCount = 0;
  private readonly refusedIp = new IPv4View();
  private readonly refusedIcmp = new IcmpView();
  private readonly quote: Quote = { ip: new IPv4View(), icmp: new IcmpView() };
  private readonly errorBudget: TokenBucket;
  private sweeper?: NodeJS.Timeout;

  /** Allocates every buffer; no I/O until {@link IcmpRelay.start}. */
  constructor(private readonly tun: PacketDevice, private readonly net: IcmpNetwork, private readonly options: RelayOptions) {
    this.now = options.now ?? Date.now;
    this.trace = options.trace;
    this.flows = new FlowTable(options.subnet, { maxFlows: options.maxFlows, idleMs: options.flowIdleMs });
    this.broadcast = (options.subnet.network | ~prefixMask(options.subnet.length)) >>> 0;
    this.local = options.localAddresses ?? new Set();
    const batch = options.batchSize ?? 64;
    const tunSlot = Math.max(2048, options.tunMtu);
    this.tunRx = new RxBatch(batch, tunSlot);
    this.netRx = new RxBatch(batch, 65536);
    this.toNet = new SpanList(batch);
    this.toNetTtl = new Uint8Array(batch);
    this.toNetIpOffset = new Uint32Array(batch);
    this.refusedIndex = new Uint32Array(batch);
    this.refusedErrno = new Array<string>(batch).fill('');
    this.toTun = new SpanList(batch);
    this.generated = new TxQueue(256, tunSlot);
    this.scratch = new Uint8Array(65536);
    this.errorBudget = new TokenBucket(options.errorRatePerSecond ?? 100, this.now);
  }

  /**
   * Starts reading both sides. `onError` gets a TunDriverError `TUN_ERR_IO` when the TUN or socket fails for good.
   * With `loop`, both wait in its poll() instead of libuv callbacks (io/poll-loop.ts).
   */
  start(onError: (err: Error) => void, loop?: PollLoop): void {
    this.tun.startReading(this.tunRx, (b) => this.fromTun(b), onError, loop);
    this.net.startReading(this.netRx, (b) => this.fromNetwork(b), onError, loop);
    this.sweeper = sweepEvery5s(this.now, [this.flows, this.reassembler]);
  }

  /** Stops reading both sides; the device and socket stay open. */
  stop(): void {
    this.tun.stopReading();
    this.net.stopReading();
    if (this.sweeper) clearInterval(this.sweeper);
  }

  /** One batch read from the TUN: requests out to the network, answers back into the TUN. */
  fromTun(batch: RxBatch): void {
    this.options.batchObserver?.('tun', batch.count);
    const now = this.now();
    this.toNet.reset(batch.buf);
    this.generated.clear();
    for (let i = 0; i < batch.count; i++) {
      try {
        this.requestFromTun(batch.buf, batch.offset(i), batch.sizes[i], now);
      } catch {
        this.counters.drop('internal-error');
      }
    }
    this.flushToNetwork();
    this.flushGenerated();
    this.options.ipv6?.flush();
  }

  /** One batch read from the network socket: replies and errors for our flows into the TUN. */
  fromNetwork(batch: RxBatch): void {
    this.options.batchObserver?.('net', batch.count);
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
    if (this.toTun.count > 0) {
      const { failed } = this.tun.writeBatch(this.toTun);
      if (failed) this.counters.drop('tun-write-failed', failed);
      else if (this.probe?.reached.has('from-network')) this.probe.mark('tun-out');
    }
    this.flushGenerated();
  }

  private requestFromTun(buf: Uint8Array, off: number, len: number, now: number): void {
    const { ip, icmp, counters } = this;
    ip.attach(buf, off, len);
    if (len > 0 && ip.version === 6) return this.options.ipv6 ? this.options.ipv6.fromTunPacket(buf, off, len, now) : counters.drop('ipv6');
    if (ip.check() !== undefined) return counters.drop('malformed');
    if (ip.isFragment) {
      if (ip.protocol !== IPPROTO.ICMP) return this.refuseNonIcmp(ip);
      counters.fragmentsIn++;
      this.trace?.(`tun>    ${describeIPv4(ip)}`);
      const whole = this.reassembler.add(ip, now);
      if (whole === undefined) return;
      if (typeof whole === 'string') return counters.drop(whole);
      counters.reassembled++;
      // A reassembled request lives in its own buffer: send it on its own.
      this.flushToNetwork();
      const saved = this.toNet.buf;
      this.toNet.reset(whole);
      this.requestFromTun(whole, 0, whole.length, now);
      this.flushToNetwork();
      this.toNet.reset(saved);
      return;
    }
    if (ip.protocol !== IPPROTO.ICMP) return this.refuseNonIcmp(ip);
    icmp.attach(buf, ip.payloadOffset, ip.payloadLength);
    if (icmp.check() !== undefined) return counters.drop('malformed');
    if (icmp.type !== ICMP_TYPE.ECHO_REQUEST) return counters.drop('not-echo-request');
    const probing = isProbePacket(this.probe, ip, ICMP_TYPE.ECHO_REQUEST);
    if (probing) this.probe!.mark('tun-in');
    if (!mayAnswerWithError(ip, ICMP_TYPE.ECHO_REQUEST, this.broadcast)) return this.dropProbe(probing, 'broadcast');
    const flow = this.flows.outbound(ip.src, ip.dst, icmp.id, now);
    if (!flow) return this.dropProbe(probing, this.flows.ownsSource(ip.src) ? 'flow-table-full' : 'bad-source');
    this.trace?.(`tun>net ${describeIPv4(ip, icmp)}${flow.outId !== flow.id ? ` (out id ${flow.outId})` : ''}`);
    icmp.setId(flow.outId);
    flow.requests++;
    const payloadOffset = ip.payloadOffset;
    const payloadLength = ip.payloadLength;
    const dst = ip.dst;
    const ttl = ip.ttl;
    counters.requestBytes += ip.totalLength;
    if (this.toNet.full) this.flushToNetwork();
    const k = this.toNet.add(payloadOffset, payloadLength, dst);
    this.toNetTtl[k] = ttl;
    this.toNetIpOffset[k] = off;
    if (probing) this.probeSpan = k;
  }

  /** Sends queued requests in runs of equal TTL (TTL is a socket option). */
  private flushToNetwork(): void {
    const spans = this.toNet;
    let start = 0;
    while (start < spans.count) {
      let end = start + 1;
      while (end < spans.count && this.toNetTtl[end] === this.toNetTtl[start]) end++;
      const sent = this.net.send(spans, start, end - start, this.toNetTtl[start], this.onSendRefused);
      this.counters.requests += sent;
      start = end;
    }
    // Refusals were only queued during the sends: answer them now, with
    // views of their own, so nothing in flight was re-pointed under us.
    for (let r = 0; r < this.refusedCount; r++) this.sendRefused(this.refusedIndex[r], this.refusedErrno[r]);
    this.refusedCount = 0;
    if (this.probeSpan >= 0) this.probe?.mark('sent'); // not refused (sendRefused clears it)
    this.probeSpan = -1;
    spans.clear();
  }

  private dropProbe(probing: boolean, reason: DropReason): void {
    if (probing) this.probe!.stoppedBecause = `the relay dropped it: ${reason}`;
    this.counters.drop(reason);
  }

  /** Queues a refused send (index in toNet, errno name); flushToNetwork answers them after its sends. */
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
    const ip = this.refusedIp.attach(this.toNet.buf, this.toNetIpOffset[i]);
    const icmp = this.refusedIcmp.attach(this.toNet.buf, ip.payloadOffset, ip.payloadLength);
    const flow = this.flows.inbound(ip.dst, icmp.id);
    if (!flow) return;
    icmp.setId(flow.id); // quote what the pinger sent
    const code = ERROR_CODE_FOR_ERRNO[errno];
    if (code !== undefined) this.giveError(ip, ICMP_TYPE.DEST_UNREACH, code, ip.dst);
  }

  /**
   * TCP, UDP and other protocols cannot be relayed as ICMP. Answer as a
   * filtering router would (Destination Unreachable, Communication
   * Administratively Prohibited) so the sender fails fast, from the
   * destination's address (a TUN-subnet or local source would be a martian).
   */
  private refuseNonIcmp(ip: IPv4View): void {
    // A source outside the TUN subnet gets no answer, as an echo request from it would not.
    if (!this.flows.ownsSource(ip.src)) return this.counters.drop('bad-source');
    if (!mayAnswerWithError(ip, undefined, this.broadcast)) return this.counters.drop('not-icmp');
    this.trace?.(`tun>    ${describeIPv4(ip)} refused: not ICMP`);
    this.giveError(ip, ICMP_TYPE.DEST_UNREACH, ICMP_UNREACH.ADMIN_PROHIBITED, ip.dst);
  }

  private giveError(offending: IPv4View, type: number, code: number, from: number): void {
    if (!this.errorBudget.take()) return this.counters.drop('error-rate-limited');
    const g = this.generated;
    if (g.full) this.flushGenerated();
    const o = g.nextOffset;
    const len = writeIcmpError(g.buf, o, type, code, from, offending);
    g.commit(len);
    this.counters.errorsGenerated++;
    if (this.trace) {
      const ip = new IPv4View(g.buf, o, len);
      this.trace(`   >tun ${describeIPv4(ip, new IcmpView(g.buf, ip.payloadOffset, ip.payloadLength))} (from the relay)`);
    }
  }

  private answerFromNetwork(buf: Uint8Array, off: number, len: number, now: number): void {
    const { ip, icmp, counters } = this;
    ip.attach(buf, off, len);
    if (ip.check() !== undefined || ip.protocol !== IPPROTO.ICMP || ip.isFragment) return counters.drop('net-malformed');
    icmp.attach(buf, ip.payloadOffset, ip.payloadLength);
    if (icmp.check() !== undefined) return counters.drop('net-malformed');
    // What the relay writes into the TUN is delivered on this host, and a
    // raw socket gets a copy of every ICMP packet delivered here: anything
    // addressed into the TUN subnet is our own output coming round again
    // (answers from the network are addressed to the host's outgoing address).
    if (this.flows.ownsSource(ip.dst)) {
      counters.ownCopies++;
      return;
    }
    let flow: Flow | undefined;
    if (icmp.type === ICMP_TYPE.ECHO_REPLY) {
      flow = this.flows.inbound(ip.src, icmp.id);
      if (!flow) {
        counters.ignored++;
        return;
      }
      ip.setDst(flow.src);
      icmp.setId(flow.id);
      flow.replies++;
      counters.replies++;
      if (this.probe?.icmpId === flow.id) this.probe.mark('from-network');
    } else if (icmp.isError && readQuote(icmp, this.quote)) {
      // Only an error about a request we sent: it left from one of this
      // host's addresses (the kernel chose it), never from the TUN subnet.
      flow = this.local.has(this.quote.ip.src) ? this.flows.inbound(this.quote.ip.dst, this.quote.icmp.id) : undefined;
      if (!flow) {
        counters.ignored++;
        return;
      }
      // An error generated by this very host (its ARP for the next hop
      // failed) has a local source, which the TUN side would drop as a
      // martian: present it as coming from the destination instead.
      rewriteError(ip, icmp, this.quote, flow.src, flow.id, this.local.has(ip.src) ? this.quote.ip.dst : undefined);
      flow.errors++;
      counters.errorsRelayed++;
      if (this.probe?.icmpId === flow.id) {
        this.probe.mark('from-network');
        this.probe.stoppedBecause = `the network answered with an ICMP error (type ${icmp.type} code ${icmp.code}) from ${formatIPv4(ip.src)}`;
      }
    } else {
      counters.ignored++; // echo requests to this host, other hosts' pings, redirects, ...
      return;
    }
    flow.lastSeen = now;
    this.trace?.(`net>tun ${describeIPv4(ip, icmp)}`);
    const total = ip.totalLength;
    if (total <= this.options.tunMtu) {
      if (this.toTun.full) {
        const { failed } = this.tun.writeBatch(this.toTun);
        if (failed) counters.drop('tun-write-failed', failed);
        this.toTun.reset(this.toTun.buf);
      }
      this.toTun.add(off, total);
      counters.replyBytes += total;
      return;
    }
    // Bigger than the TUN's MTU (a reply to ping -s 3000): hand it over in
    // fragments, as the link would have delivered it. DF is ours to clear
    // on this last hop, since the reply already arrived whole.
    ip.setFlagsFragment(ip.flagsFragment & ~IPV4.FLAG_DF);
    counters.repliesFragmented++;
    counters.replyBytes += total;
    const g = this.generated;
    const ok = fragmentIPv4(ip, this.options.tunMtu, this.scratch, (fb, fo, fl) => {
      if (g.full) this.flushGenerated();
      g.push(fb.subarray(fo, fo + fl));
    });
    if (!ok) counters.drop('fragment-failed');
  }

  private flushGenerated(): void {
    const g = this.generated;
    if (g.count === 0) return;
    const { failed } = this.tun.writeBatch(g);
    if (failed) this.counters.drop('tun-write-failed', failed);
    g.clear();
  }
}
