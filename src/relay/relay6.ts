// The ICMPv6 relay: the IPv6 twin of relay.ts. Echo requests that local
// pingers send into the TUN (`ping -6 -I tun19 <host>`) leave through the
// host's network stack, and the replies and errors that come back are
// written into the TUN as if the destination had answered directly.
//
// It runs beside the IPv4 relay on one TUN (IcmpRelay hands it the IPv6
// packets it reads) or alone on an IPv6-only TUN (it reads the TUN itself).
// Contract for every packet, as in relay.ts: relayed, answered, or dropped
// and counted. The kernel's own IPv6 link chatter into the TUN (router and
// neighbour solicitations, MLD reports) is counted, never relayed.
import { RxBatch, TxQueue } from '../io/batch.js';
import { PollLoop } from '../io/poll-loop.js';
import { formatIPv6, ipv6Key, parseIPv6, Prefix6, prefix6Contains, writeIPv6Key } from '../packet/addr6.js';
import { get16, put16 } from '../packet/bytes.js';
import { updateChecksum16 } from '../packet/checksum.js';
import { ICMP } from '../packet/icmp.js';
import { describeIPv6 } from '../packet/describe.js';
import { fragmentIPv6, Reassembler6 } from '../packet/fragment6.js';
import { Icmp6View, ICMP6_TYPE, ICMP6_UNREACH, isLinkChatter } from '../packet/icmp6.js';
import { mayAnswerWithError6, Quote6, quotedId, readQuote6, rewriteError6, writeIcmp6Error } from '../packet/icmp6-errors.js';
import { IPv6View, IPV6, NEXT_HEADER } from '../packet/ipv6.js';
import { PacketDevice } from '../tun/device.js';
import { TokenBucket } from '../util/token-bucket.js';
import { sweepEvery5s } from './sweeper.js';
import { Drop6Reason, Relay6Counters } from './counters6.js';
import { isProbePacket6, Probe } from '../control/probe.js';
import { Flow, Flow6Table } from './flow-table.js';
import { Icmp6Network } from './network6.js';
import { Span6List } from '../io/batch.js';

/** How an {@link Icmp6Relay} is configured. */
export interface Relay6Options {
  /** The TUN's IPv6 address and prefix: pingers must use a source inside it. */
  subnet: Prefix6;
  tunMtu: number;
  /** IPv6 addresses of the relay host (as text): an error from one of them is presented as from the destination. */
  localAddresses?: ReadonlySet<string>;
  maxFlows?: number;
  flowIdleMs?: number;
  batchSize?: number;
  /** ICMPv6 errors the relay may give per second (bursts up to the same number). */
  errorRatePerSecond?: number;
  /** Called with one tcpdump-like line per packet when tracing. */
  trace?: (line: string) => void;
  /** The clock for flow expiry and the error rate limit (tests inject one). */
  now?: () => number;
}

const UNREACH_FOR_ERRNO: Record<string, number> = { ENETUNREACH: ICMP6_UNREACH.NO_ROUTE, EHOSTUNREACH: ICMP6_UNREACH.ADDRESS, EACCES: ICMP6_UNREACH.ADMIN_PROHIBITED, EPERM: ICMP6_UNREACH.ADMIN_PROHIBITED };

/** The ICMPv6 echo relay over a {@link PacketDevice} and an {@link Icmp6Network}. Bad input is counted and dropped, never thrown. */
export class Icmp6Relay {
  readonly counters = new Relay6Counters();
  /** Armed by doctor's live probe (see control/probe.ts), shared with the IPv4 relay on a dual-stack TUN. */
  probe?: Probe;
  /** Index in toNet of the probe's request, while it waits to be sent. */
  private probeSpan = -1;
  readonly flows: Flow6Table;
  private readonly reassembler = new Reassembler6();
  private readonly now: () => number;
  private readonly trace?: (line: string) => void;
  /** This host's addresses, as ipv6Key strings. */
  private readonly local: ReadonlySet<string>;
  /** A flow's pinger address as bytes, for the error rewrite (which copies it). */
  private readonly pingerBytes = new Uint8Array(16);
  private readonly tunRx: RxBatch;
  private readonly netRx: RxBatch;
  /** Requests to send: ICMPv6 spans into the buffer the TUN batch was read into. */
  private readonly toNet: Span6List;
  /** Each queued request's flow, to answer a refused send. */
  private readonly toNetFlow: Array<Flow<string> | undefined>;
  /** Each queued request's IPv6 header offset (in toNet.buf), to quote it in an error. */
  private readonly toNetIpOffset: Uint32Array;
  /** Everything written into the TUN: replies, errors, fragments. */
  private readonly toTun: TxQueue;
  private readonly scratch = new Uint8Array(65536 + IPV6.HEADER);
  private readonly ip = new IPv6View();
  private readonly icmp = new Icmp6View();
  private readonly quote: Quote6 = { ip: new IPv6View(), icmpOffset: 0 };
  private readonly refused: Array<{ index: number; errno: string }> = [];
  private readonly errorBudget: TokenBucket;
  private fragmentId = (Math.random() * 0x100000000) >>> 0;
  private sweeper?: NodeJS.Timeout;

  /** Allocates every buffer; no I/O until {@link Icmp6Relay.start}. */
  constructor(private readonly tun: PacketDevice, private readonly net: Icmp6Network, private readonly options: Relay6Options) {
    this.now = options.now ?? Date.now;
    this.trace = options.trace;
    this.flows = new Flow6Table(options.subnet, { maxFlows: options.maxFlows, idleMs: options.flowIdleMs });
    this.local = new Set([...(options.localAddresses ?? [])].flatMap((text) => { const b = parseIPv6(text); return b ? [ipv6Key(b)] : []; }));
    const batch = options.batchSize ?? 64;
    this.tunRx = new RxBatch(batch, Math.max(2048, options.tunMtu));
    this.netRx = new RxBatch(batch, 65536 + IPV6.HEADER, IPV6.HEADER);
    this.toNet = new Span6List(batch);
    this.toNetFlow = new Array(batch).fill(undefined);
    this.toNetIpOffset = new Uint32Array(batch);
    this.toTun = new TxQueue(256, Math.max(IPV6.MIN_MTU, Math.min(options.tunMtu, 65536)));
    this.errorBudget = new TokenBucket(options.errorRatePerSecond ?? 100, this.now);
  }

  /**
   * Starts reading the network side; with `readTun` (an IPv6-only relay)
   * the TUN too, else the IPv4 relay hands over IPv6 packets through
   * {@link Icmp6Relay.fromTunPacket} and {@link Icmp6Relay.flush}.
   */
  start(onError: (err: Error) => void, loop: PollLoop | undefined, readTun: boolean): void {
    if (readTun) this.tun.startReading(this.tunRx, (b) => this.fromTun(b), onError, loop);
    this.net.startReading(this.netRx, (b) => this.fromNetwork(b), onError, loop);
    this.sweeper = sweepEvery5s(this.now, [this.flows, this.reassembler]);
  }

  /** Stops reading both sides; the device and socket stay open. */
  stop(): void {
    this.tun.stopReading();
    this.net.stopReading();
    if (this.sweeper) clearInterval(this.sweeper);
  }

  /** One batch read from the TUN (IPv6-only mode): IPv4 in it is counted and dropped. */
  fromTun(batch: RxBatch): void {
    const now = this.now();
    for (let i = 0; i < batch.count; i++) {
      const off = batch.offset(i);
      if (batch.sizes[i] > 0 && batch.buf[off] >> 4 === 4) this.counters.drop('ipv4');
      else this.fromTunPacket(batch.buf, off, batch.sizes[i], now);
    }
    this.flush();
  }

  /** One IPv6 packet read from the TUN; what it queues leaves on {@link Icmp6Relay.flush}. */
  fromTunPacket(buf: Uint8Array, off: number, len: number, now: number): void {
    try {
      if (this.toNet.buf !== buf) {
        this.flushToNetwork();
        this.toNet.reset(buf);
      }
      this.requestFromTun(buf, off, len, now);
    } catch {
      this.counters.drop('internal-error');
    }
  }

  /** Sends what the TUN side queued and writes what it generated. */
  flush(): void {
    this.flushToNetwork();
    this.flushToTun();
  }

  private requestFromTun(buf: Uint8Array, off: number, len: number, now: number): void {
    const { ip, icmp, counters } = this;
    ip.attach(buf, off, len);
    const problem = ip.check();
    if (problem !== undefined) {
      if (problem === 'unsupported-extension-header') return counters.drop(`extension-${ip.refusedExtension() ?? 'unknown'}` as Drop6Reason);
      return counters.drop(problem);
    }
    if (ip.isFragment) {
      counters.fragmentsIn++;
      this.trace?.(`tun>    ${describeIPv6(ip)} fragment`);
      const whole = this.reassembler.add(ip, now);
      if (whole === undefined) return;
      if (typeof whole === 'string') return counters.drop(whole);
      counters.reassembled++;
      // A reassembled request lives in its own buffer: send it on its own.
      const saved = this.toNet.buf;
      this.flushToNetwork();
      this.toNet.reset(whole);
      this.requestFromTun(whole, 0, whole.length, now);
      this.flushToNetwork();
      this.toNet.reset(saved);
      return;
    }
    if (ip.protocol !== NEXT_HEADER.ICMPV6) return this.refuseNonIcmp(ip);
    icmp.attachTo(ip);
    if (icmp.check() !== undefined) return counters.drop('malformed');
    if (isLinkChatter(icmp.type)) {
      counters.linkChatter++;
      return;
    }
    if (icmp.type !== ICMP6_TYPE.ECHO_REQUEST) return counters.drop('not-echo-request');
    const probing = isProbePacket6(this.probe, ip, ICMP6_TYPE.ECHO_REQUEST);
    if (probing) this.probe!.mark('tun-in');
    if (buf[ip.dstOffset] === 0xff) return this.dropProbe(probing, 'multicast');
    const src = ipv6Key(buf, ip.srcOffset);
    const flow = this.flows.outbound(src, ipv6Key(buf, ip.dstOffset), icmp.id, now);
    if (!flow) return this.dropProbe(probing, this.flows.ownsSource(src) ? 'flow-table-full' : 'bad-source');
    this.trace?.(`tun>net ${describeIPv6(ip, icmp)}${flow.outId !== flow.id ? ` (out id ${flow.outId})` : ''}`);
    icmp.setId(flow.outId); // the kernel recomputes the checksum of what a raw ICMPv6 socket sends
    flow.requests++;
    counters.requestBytes += ip.totalLength;
    if (this.toNet.full) this.flushToNetwork();
    const k = this.toNet.add(ip.payloadOffset, ip.upperLength, buf, ip.dstOffset, ip.hopLimit);
    this.toNetFlow[k] = flow;
    this.toNetIpOffset[k] = off;
    if (probing) this.probeSpan = k;
  }

  private dropProbe(probing: boolean, reason: Drop6Reason): void {
    if (probing) this.probe!.stoppedBecause = `the relay dropped it: ${reason}`;
    this.counters.drop(reason);
  }

  private flushToNetwork(): void {
    const spans = this.toNet;
    if (spans.count === 0) return;
    this.counters.requests += this.net.send(spans, 0, spans.count, this.onSendRefused);
    // Answer refusals once the sends are over, so nothing in flight moved under us.
    for (const r of this.refused) this.sendRefused(r.index, r.errno);
    this.refused.length = 0;
    if (this.probeSpan >= 0) this.probe?.mark('sent'); // not refused (sendRefused clears it)
    this.probeSpan = -1;
    spans.count = 0;
    this.toNetFlow.fill(undefined);
  }

  private readonly onSendRefused = (index: number, errno: string): void => {
    this.refused.push({ index, errno });
  };

  /** The kernel would not send request i: tell the pinger as a router would. */
  private sendRefused(i: number, errno: string): void {
    this.counters.drop('send-failed');
    if (i === this.probeSpan) {
      this.probe!.stoppedBecause = `the kernel refused to send it: ${errno}`;
      this.probeSpan = -1;
    }
    const flow = this.toNetFlow[i];
    const code = UNREACH_FOR_ERRNO[errno];
    if (!flow || code === undefined) return;
    const ip = new IPv6View(this.toNet.buf, this.toNetIpOffset[i]);
    if (ip.check() !== undefined) return;
    const icmp = new Icmp6View().attachTo(ip);
    icmp.setId(flow.id); // quote what the pinger sent
    this.giveError(ip, ICMP6_TYPE.DEST_UNREACH, code, ip.dst());
  }

  /** TCP, UDP and the rest cannot be relayed as ICMPv6: answer as a filtering router would (administratively prohibited), from the destination. */
  private refuseNonIcmp(ip: IPv6View): void {
    if (!prefix6Contains(this.options.subnet, ip.buf, ip.srcOffset)) return this.counters.drop('bad-source');
    if (!mayAnswerWithError6(ip, undefined)) return this.counters.drop('not-icmp');
    this.trace?.(`tun>    ${describeIPv6(ip)} refused: not ICMPv6`);
    this.giveError(ip, ICMP6_TYPE.DEST_UNREACH, ICMP6_UNREACH.ADMIN_PROHIBITED, ip.dst());
  }

  private giveError(offending: IPv6View, type: number, code: number, from: Uint8Array): void {
    if (!this.errorBudget.take()) return this.counters.drop('error-rate-limited');
    const q = this.toTun;
    if (q.full) this.flushToTun();
    const len = writeIcmp6Error(this.scratch, 0, type, code, from.slice(), offending);
    q.push(this.scratch.subarray(0, Math.min(len, q.slotSize)));
    this.counters.errorsGenerated++;
  }

  /** One batch from the network socket: replies and errors for our flows into the TUN. */
  fromNetwork(batch: RxBatch): void {
    const now = this.now();
    for (let i = 0; i < batch.count; i++) {
      try {
        this.answerFromNetwork(batch.buf, batch.offset(i), batch.sizes[i], now);
      } catch {
        this.counters.drop('internal-error');
      }
    }
    this.flushToTun();
  }

  private answerFromNetwork(buf: Uint8Array, off: number, len: number, now: number): void {
    const { ip, icmp, counters } = this;
    ip.attach(buf, off, len);
    if (ip.check() !== undefined) return counters.drop('net-malformed');
    icmp.attachTo(ip);
    if (icmp.check() !== undefined) return counters.drop('net-malformed');
    // What the relay writes into the TUN is delivered on this host, and the
    // raw socket gets a copy: anything addressed into the TUN subnet is our
    // own output coming round again.
    if (prefix6Contains(this.options.subnet, buf, ip.dstOffset)) {
      counters.ownCopies++;
      return;
    }
    const src = ipv6Key(buf, ip.srcOffset);
    let flow: Flow<string> | undefined;
    if (icmp.type === ICMP6_TYPE.ECHO_REPLY) {
      flow = this.flows.inbound(src, icmp.id);
      if (!flow) {
        counters.ignored++;
        return;
      }
      icmp.setId(flow.id);
      this.setDestination(ip, icmp, flow.src);
      flow.replies++;
      counters.replies++;
      if (this.probe?.icmpId === flow.id) this.probe.mark('from-network');
    } else if (icmp.isError && readQuote6(icmp, this.quote)) {
      // Only an error about a request we sent: it left from one of this host's addresses.
      const quoted = this.quote.ip;
      const fromUs = this.local.has(ipv6Key(buf, quoted.srcOffset));
      flow = fromUs ? this.flows.inbound(ipv6Key(buf, quoted.dstOffset), quotedId(this.quote)) : undefined;
      if (!flow) {
        counters.ignored++;
        return;
      }
      // An error this very host generated (its neighbour discovery for the
      // next hop failed) has a local source: present it as the destination's.
      const from = this.local.has(src) ? quoted.dst().slice() : undefined;
      writeIPv6Key(flow.src, this.pingerBytes);
      rewriteError6(ip, icmp, this.quote, this.pingerBytes, flow.id, from);
      if (icmp.type === ICMP6_TYPE.PACKET_TOO_BIG) counters.packetTooBig++;
      flow.errors++;
      counters.errorsRelayed++;
      if (this.probe?.icmpId === flow.id) {
        this.probe.mark('from-network');
        this.probe.stoppedBecause = `the network answered with an ICMPv6 error (type ${icmp.type} code ${icmp.code}) from ${formatIPv6(buf, ip.srcOffset)}`;
      }
    } else {
      counters.ignored++;
      return;
    }
    flow.lastSeen = now;
    this.trace?.(`net>tun ${describeIPv6(ip, icmp)}`);
    counters.replyBytes += ip.totalLength;
    this.writeToTun(ip);
  }

  /**
   * Sets the outer destination to the pinger (an ipv6Key) and updates the
   * ICMPv6 checksum (`icmp`, attached to `ip`) for the pseudo-header's
   * changed words (RFC 1624), as the IPv4 relay does for its header.
   */
  private setDestination(ip: IPv6View, icmp: Icmp6View, pinger: string): void {
    const { buf, dstOffset } = ip;
    const at = icmp.off + ICMP.CHECKSUM;
    let check = get16(buf, at);
    for (let i = 0; i < 8; i++) {
      const word = pinger.charCodeAt(i);
      check = updateChecksum16(check, get16(buf, dstOffset + 2 * i), word);
      put16(buf, dstOffset + 2 * i, word);
    }
    put16(buf, at, check);
  }

  /** Queues a packet for the TUN, in fragments when it exceeds the TUN's MTU (the relay is its source on that link). */
  private writeToTun(ip: IPv6View): void {
    const q = this.toTun;
    if (ip.totalLength <= this.options.tunMtu) {
      if (q.full) this.flushToTun();
      q.push(ip.buf.subarray(ip.off, ip.off + ip.totalLength));
      return;
    }
    this.counters.repliesFragmented++;
    this.fragmentId = (this.fragmentId + 1) >>> 0;
    const ok = fragmentIPv6(ip, this.options.tunMtu, this.fragmentId, this.scratch, (fb, fo, fl) => {
      if (q.full) this.flushToTun();
      q.push(fb.subarray(fo, fo + fl));
    });
    if (!ok) this.counters.drop('fragment-failed');
  }

  private flushToTun(): void {
    const q = this.toTun;
    if (q.count === 0) return;
    const { failed } = this.tun.writeBatch(q);
    if (failed) this.counters.drop('tun-write-failed', failed);
    else if (this.probe?.reached.has('from-network')) this.probe.mark('tun-out');
    q.clear();
  }
}

