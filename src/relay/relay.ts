// The ICMP relay's IPv4 part (the machine itself is relay-core.ts): IPv4
// headers and ICMP messages, flows keyed by address numbers, errors from
// the destination's address, fragments of replies larger than the TUN.
// On a dual-stack TUN this relay reads the TUN and hands IPv6 packets to
// its IPv6 partner (relay6.ts).
import { SpanList } from '../io/batch.js';
import { PollLoop } from '../io/poll-loop.js';
import { formatIPv4, Prefix, prefixMask } from '../packet/addr.js';
import { describeIPv4 } from '../packet/describe.js';
import { fragmentIPv4, Reassembler } from '../packet/fragment.js';
import { IPv4View, IPPROTO, IPV4 } from '../packet/ipv4.js';
import { IcmpView, ICMP_TYPE, ICMP_UNREACH } from '../packet/icmp.js';
import { PacketDevice } from '../tun/device.js';
import { DropReason, RelayCounters } from './counters.js';
import { isProbePacket } from '../control/probe.js';
import { Flow, FlowTable } from './flow-table.js';
import { mayAnswerWithError, Quote, readQuote, rewriteError, writeIcmpError } from '../packet/icmp-errors.js';
import { IcmpNetwork } from './network.js';
import type { Icmp6Relay } from './relay6.js';
import { RelayCore, RelayCoreOptions } from './relay-core.js';

/** How an {@link IcmpRelay} is configured. */
export interface RelayOptions extends RelayCoreOptions {
  /** The TUN's address and prefix: pingers must use a source inside it. */
  subnet: Prefix;
  /** Addresses of the relay host: an error *from* one of them (ARP failure) would be a martian in the TUN. */
  localAddresses?: ReadonlySet<number>;
  /** The IPv6 relay on the same TUN: IPv6 packets read from it go there instead of being dropped as `ipv6`. */
  ipv6?: Icmp6Relay;
}

const ERROR_CODE_FOR_ERRNO: Record<string, number> = { ENETUNREACH: ICMP_UNREACH.NET, EHOSTUNREACH: ICMP_UNREACH.HOST, EACCES: ICMP_UNREACH.ADMIN_PROHIBITED, EPERM: ICMP_UNREACH.ADMIN_PROHIBITED };

/**
 * The ICMP echo relay over a {@link PacketDevice} and an {@link IcmpNetwork}: pings written into the TUN go out through the host,
 * replies and errors come back into the TUN as if the network had answered the pinger. Bad input is counted and dropped, never thrown.
 */
export class IcmpRelay extends RelayCore<number, DropReason> {
  protected readonly family = { version: 4, otherFamily: 'ipv6' as const, icmpProtocol: IPPROTO.ICMP, echoRequest: ICMP_TYPE.ECHO_REQUEST, echoReply: ICMP_TYPE.ECHO_REPLY, icmpName: 'ICMP', unreachableFor: ERROR_CODE_FOR_ERRNO };
  private readonly reassembler = new Reassembler();
  private readonly broadcast: number;
  private readonly local: ReadonlySet<number>;
  protected readonly ip = new IPv4View();
  protected readonly icmp = new IcmpView();
  /** The views of a refused request, apart from ip/icmp: a refusal is answered in the middle of another packet's handling. */
  private readonly refusedIp = new IPv4View();
  private readonly refusedIcmp = new IcmpView();
  private readonly quote: Quote = { ip: new IPv4View(), icmp: new IcmpView() };
  /** Requests to send: ICMP spans into the buffer they were read into, with their TTLs (a socket option: sent in runs). */
  private readonly toNet: SpanList;
  private readonly toNetTtl: Uint8Array;

  /** Allocates every buffer; no I/O until {@link IcmpRelay.start}. */
  constructor(tun: PacketDevice, protected readonly net: IcmpNetwork, options: RelayOptions) {
    super(tun, options, { counters: new RelayCounters(), flows: new FlowTable(options.subnet, { maxFlows: options.maxFlows, idleMs: options.flowIdleMs }), netHeadroom: 0 });
    this.broadcast = (options.subnet.network | ~prefixMask(options.subnet.length)) >>> 0;
    this.local = options.localAddresses ?? new Set();
    this.toNet = new SpanList(this.batchSize);
    this.toNetTtl = new Uint8Array(this.batchSize);
    this.setPartner(options.ipv6);
  }

  /**
   * Starts reading both sides (and, on a dual-stack TUN, hands IPv6 to the IPv6 relay). `onError` gets a TunDriverError `TUN_ERR_IO` when the TUN or socket fails for good.
   * With `loop`, both wait in its poll() instead of libuv callbacks (io/poll-loop.ts).
   */
  start(onError: (err: Error) => void, loop?: PollLoop): void {
    this.startReading(onError, loop, true, [this.reassembler]);
  }

  protected attachFromTun(buf: Uint8Array, off: number, len: number): DropReason | undefined {
    return this.ip.attach(buf, off, len).check() === undefined ? undefined : 'malformed';
  }

  protected fragmentIsRefused(): boolean {
    return this.ip.protocol !== IPPROTO.ICMP;
  }

  protected reassemble(now: number): Uint8Array | DropReason | undefined {
    return this.reassembler.add(this.ip, now);
  }

  protected attachIcmp(): boolean {
    return this.icmp.attach(this.ip.buf, this.ip.payloadOffset, this.ip.payloadLength).check() === undefined;
  }

  protected isLinkChatter(): boolean {
    return false;
  }

  protected isProbeRequest(): boolean {
    return isProbePacket(this.probe, this.ip, ICMP_TYPE.ECHO_REQUEST);
  }

  protected refusedDestination(): DropReason | undefined {
    return mayAnswerWithError(this.ip, ICMP_TYPE.ECHO_REQUEST, this.broadcast) ? undefined : 'broadcast';
  }

  protected mayRefuse(): boolean {
    return mayAnswerWithError(this.ip, undefined, this.broadcast);
  }

  protected srcKey(): number {
    return this.ip.src;
  }

  protected dstKey(): number {
    return this.ip.dst;
  }

  protected describe(withIcmp: boolean): string {
    return withIcmp ? describeIPv4(this.ip, this.icmp) : describeIPv4(this.ip);
  }

  protected describeGenerated(buf: Uint8Array, off: number, len: number): string {
    const ip = new IPv4View(buf, off, len);
    return describeIPv4(ip, new IcmpView(buf, ip.payloadOffset, ip.payloadLength));
  }

  protected queueRequest(k: number): void {
    this.toNet.count = k;
    this.toNet.add(this.ip.payloadOffset, this.ip.payloadLength, this.ip.dst);
    this.toNetTtl[k] = this.ip.ttl;
  }

  /** Sends in runs of equal TTL (TTL is a socket option). */
  protected sendQueued(count: number, onRefused: (index: number, errno: string) => void): number {
    const spans = this.toNet;
    spans.buf = this.toNetBuf;
    spans.count = count;
    let sent = 0;
    let start = 0;
    while (start < count) {
      let end = start + 1;
      while (end < count && this.toNetTtl[end] === this.toNetTtl[start]) end++;
      sent += this.net.send(spans, start, end - start, this.toNetTtl[start], onRefused);
      start = end;
    }
    spans.count = 0;
    return sent;
  }

  protected attachRefused(buf: Uint8Array, ipOffset: number, pingerId: number): boolean {
    const ip = this.refusedIp.attach(buf, ipOffset);
    this.refusedIcmp.attach(buf, ip.payloadOffset, ip.payloadLength).setId(pingerId);
    return true;
  }

  protected writeError(b: Uint8Array, o: number, kind: 'prohibited' | 'errno', errno?: string): number {
    const offending = kind === 'errno' ? this.refusedIp : this.ip;
    const code = kind === 'errno' ? ERROR_CODE_FOR_ERRNO[errno!] : ICMP_UNREACH.ADMIN_PROHIBITED;
    return writeIcmpError(b, o, ICMP_TYPE.DEST_UNREACH, code, offending.dst, offending);
  }

  protected attachFromNetwork(buf: Uint8Array, off: number, len: number): boolean {
    const ip = this.ip.attach(buf, off, len);
    if (ip.check() !== undefined || ip.protocol !== IPPROTO.ICMP || ip.isFragment) return false;
    return this.icmp.attach(buf, ip.payloadOffset, ip.payloadLength).check() === undefined;
  }

  protected dstInSubnet(): boolean {
    return this.flows.ownsSource(this.ip.dst);
  }

  protected rewriteReply(flow: Flow<number>): void {
    this.ip.setDst(flow.src);
    this.icmp.setId(flow.id);
  }

  protected flowOfError(): Flow<number> | undefined {
    if (!this.icmp.isError || !readQuote(this.icmp, this.quote)) return undefined;
    // Only an error about a request we sent: it left from one of this
    // host's addresses (the kernel chose it), never from the TUN subnet.
    return this.local.has(this.quote.ip.src) ? this.flows.inbound(this.quote.ip.dst, this.quote.icmp.id) : undefined;
  }

  protected rewriteError(flow: Flow<number>): void {
    // An error generated by this very host (its ARP for the next hop
    // failed) has a local source, which the TUN side would drop as a
    // martian: present it as coming from the destination instead.
    rewriteError(this.ip, this.icmp, this.quote, flow.src, flow.id, this.local.has(this.ip.src) ? this.quote.ip.dst : undefined);
  }

  protected srcText(): string {
    return formatIPv4(this.ip.src);
  }

  /** DF is ours to clear on this last hop, since the reply already arrived whole. */
  protected fragment(mtu: number, emit: (buf: Uint8Array, off: number, len: number) => void): boolean {
    this.ip.setFlagsFragment(this.ip.flagsFragment & ~IPV4.FLAG_DF);
    return fragmentIPv4(this.ip, mtu, this.scratch, emit);
  }
}
