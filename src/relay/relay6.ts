// The ICMP relay's IPv6 part (the machine itself is relay-core.ts): IPv6
// headers and ICMPv6 messages (`ping -6 -I tun19 <host>`), flows keyed by
// ipv6Key strings made from the packet's bytes, errors from the
// destination's address, fragments of replies larger than the TUN. The
// kernel's own IPv6 link chatter into the TUN (router and neighbour
// solicitations, MLD reports) is counted, never relayed.
//
// It runs beside the IPv4 relay on one TUN (IcmpRelay hands it the IPv6
// packets it reads) or alone on an IPv6-only TUN (it reads the TUN itself).
import { Span6List } from '../io/batch.js';
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
import { Drop6Reason, Relay6Counters } from './counters6.js';
import { isProbePacket6 } from '../control/probe.js';
import { Flow, Flow6Table } from './flow-table.js';
import { Icmp6Network } from './network6.js';
import { RelayCore, RelayCoreOptions } from './relay-core.js';

/** How an {@link Icmp6Relay} is configured. */
export interface Relay6Options extends RelayCoreOptions {
  /** The TUN's IPv6 address and prefix: pingers must use a source inside it. */
  subnet: Prefix6;
  /** IPv6 addresses of the relay host (as text): an error from one of them is presented as from the destination. */
  localAddresses?: ReadonlySet<string>;
}

const UNREACH_FOR_ERRNO: Record<string, number> = { ENETUNREACH: ICMP6_UNREACH.NO_ROUTE, EHOSTUNREACH: ICMP6_UNREACH.ADDRESS, EACCES: ICMP6_UNREACH.ADMIN_PROHIBITED, EPERM: ICMP6_UNREACH.ADMIN_PROHIBITED };

/** The ICMPv6 echo relay over a {@link PacketDevice} and an {@link Icmp6Network}. Bad input is counted and dropped, never thrown. */
export class Icmp6Relay extends RelayCore<string, Drop6Reason, Relay6Counters> {
  protected readonly family = { version: 6, otherFamily: 'ipv4' as const, icmpProtocol: NEXT_HEADER.ICMPV6, echoRequest: ICMP6_TYPE.ECHO_REQUEST, echoReply: ICMP6_TYPE.ECHO_REPLY, icmpName: 'ICMPv6', unreachableFor: UNREACH_FOR_ERRNO };
  private readonly reassembler = new Reassembler6();
  private readonly subnet: Prefix6;
  /** This host's addresses, as ipv6Key strings. */
  private readonly local: ReadonlySet<string>;
  /** A flow's pinger address as bytes, for the error rewrite (which copies it). */
  private readonly pingerBytes = new Uint8Array(16);
  protected readonly ip = new IPv6View();
  protected readonly icmp = new Icmp6View();
  /** The views of a refused request, apart from ip/icmp: a refusal is answered in the middle of another packet's handling. */
  private readonly refusedIp = new IPv6View();
  private readonly refusedIcmp = new Icmp6View();
  private readonly quote: Quote6 = { ip: new IPv6View(), icmpOffset: 0 };
  /** Requests to send: ICMPv6 spans, each with its destination and hop limit. */
  private readonly toNet: Span6List;
  private fragmentId = (Math.random() * 0x100000000) >>> 0;

  /** Allocates every buffer; no I/O until {@link Icmp6Relay.start}. */
  constructor(tun: PacketDevice, protected readonly net: Icmp6Network, options: Relay6Options) {
    super(tun, options, { counters: new Relay6Counters(), flows: new Flow6Table(options.subnet, { maxFlows: options.maxFlows, idleMs: options.flowIdleMs }), netHeadroom: IPV6.HEADER });
    this.subnet = options.subnet;
    this.local = new Set([...(options.localAddresses ?? [])].flatMap((text) => { const b = parseIPv6(text); return b ? [ipv6Key(b)] : []; }));
    this.toNet = new Span6List(this.batchSize);
  }

  /**
   * Starts reading the network side; with `readTun` (an IPv6-only relay)
   * the TUN too, else the IPv4 relay hands over IPv6 packets through
   * fromTunPacket() and flush().
   */
  start(onError: (err: Error) => void, loop: PollLoop | undefined, readTun: boolean): void {
    this.startReading(onError, loop, readTun, [this.reassembler]);
  }

  protected attachFromTun(buf: Uint8Array, off: number, len: number): Drop6Reason | undefined {
    const problem = this.ip.attach(buf, off, len).check();
    if (problem === undefined) return undefined;
    return problem === 'unsupported-extension-header' ? (`extension-${this.ip.refusedExtension() ?? 'unknown'}` as Drop6Reason) : problem;
  }

  /** The protocol is known only once whole: every fragment is reassembled. */
  protected fragmentIsRefused(): boolean {
    return false;
  }

  protected reassemble(now: number): Uint8Array | Drop6Reason | undefined {
    return this.reassembler.add(this.ip, now);
  }

  protected attachIcmp(): boolean {
    return this.icmp.attachTo(this.ip).check() === undefined;
  }

  /** Counts the kernel's own link messages as it recognizes them. */
  protected isLinkChatter(): boolean {
    if (!isLinkChatter(this.icmp.type)) return false;
    this.counters.linkChatter++;
    return true;
  }

  protected isProbeRequest(): boolean {
    return isProbePacket6(this.probe, this.ip, ICMP6_TYPE.ECHO_REQUEST);
  }

  protected refusedDestination(): Drop6Reason | undefined {
    return this.ip.buf[this.ip.dstOffset] === 0xff ? 'multicast' : undefined;
  }

  protected mayRefuse(): boolean {
    return mayAnswerWithError6(this.ip, undefined);
  }

  protected srcKey(): string {
    return ipv6Key(this.ip.buf, this.ip.srcOffset);
  }

  protected dstKey(): string {
    return ipv6Key(this.ip.buf, this.ip.dstOffset);
  }

  protected describe(withIcmp: boolean): string {
    if (withIcmp) return describeIPv6(this.ip, this.icmp);
    return `${describeIPv6(this.ip)}${this.ip.isFragment ? ' fragment' : ''}`;
  }

  protected describeGenerated(buf: Uint8Array, off: number, len: number): string {
    const ip = new IPv6View(buf, off, len);
    return describeIPv6(ip, new Icmp6View().attachTo(ip));
  }

  protected queueRequest(k: number): void {
    const ip = this.ip;
    this.toNet.count = k;
    this.toNet.add(ip.payloadOffset, ip.upperLength, ip.buf, ip.dstOffset, ip.hopLimit);
  }

  protected sendQueued(count: number, onRefused: (index: number, errno: string) => void): number {
    const spans = this.toNet;
    spans.buf = this.toNetBuf;
    spans.count = count;
    const sent = this.net.send(spans, 0, count, onRefused);
    spans.count = 0;
    return sent;
  }

  protected attachRefused(buf: Uint8Array, ipOffset: number, pingerId: number): boolean {
    const ip = this.refusedIp.attach(buf, ipOffset);
    if (ip.check() !== undefined) return false;
    this.refusedIcmp.attachTo(ip).setId(pingerId);
    return true;
  }

  protected writeError(b: Uint8Array, o: number, kind: 'prohibited' | 'errno', errno?: string): number {
    const offending = kind === 'errno' ? this.refusedIp : this.ip;
    const code = kind === 'errno' ? UNREACH_FOR_ERRNO[errno!] : ICMP6_UNREACH.ADMIN_PROHIBITED;
    return writeIcmp6Error(b, o, ICMP6_TYPE.DEST_UNREACH, code, offending.dst(), offending);
  }

  protected attachFromNetwork(buf: Uint8Array, off: number, len: number): boolean {
    if (this.ip.attach(buf, off, len).check() !== undefined) return false;
    return this.icmp.attachTo(this.ip).check() === undefined;
  }

  protected dstInSubnet(): boolean {
    return prefix6Contains(this.subnet, this.ip.buf, this.ip.dstOffset);
  }

  /**
   * Sets the outer destination to the pinger (an ipv6Key) and the
   * identifier back to the pinger's, updating the ICMPv6 checksum for the
   * pseudo-header's changed words (RFC 1624).
   */
  protected rewriteReply(flow: Flow<string>): void {
    const { ip, icmp } = this;
    icmp.setId(flow.id);
    const { buf, dstOffset } = ip;
    const at = icmp.off + ICMP.CHECKSUM;
    let check = get16(buf, at);
    for (let i = 0; i < 8; i++) {
      const word = flow.src.charCodeAt(i);
      check = updateChecksum16(check, get16(buf, dstOffset + 2 * i), word);
      put16(buf, dstOffset + 2 * i, word);
    }
    put16(buf, at, check);
  }

  protected flowOfError(): Flow<string> | undefined {
    if (!this.icmp.isError || !readQuote6(this.icmp, this.quote)) return undefined;
    // Only an error about a request we sent: it left from one of this host's addresses.
    const quoted = this.quote.ip;
    if (!this.local.has(ipv6Key(quoted.buf, quoted.srcOffset))) return undefined;
    return this.flows.inbound(ipv6Key(quoted.buf, quoted.dstOffset), quotedId(this.quote));
  }

  protected rewriteError(flow: Flow<string>): void {
    // An error this very host generated (its neighbour discovery for the
    // next hop failed) has a local source: present it as the destination's.
    const from = this.local.has(this.srcKey()) ? this.quote.ip.dst().slice() : undefined;
    writeIPv6Key(flow.src, this.pingerBytes);
    rewriteError6(this.ip, this.icmp, this.quote, this.pingerBytes, flow.id, from);
    if (this.icmp.type === ICMP6_TYPE.PACKET_TOO_BIG) this.counters.packetTooBig++;
  }

  protected srcText(): string {
    return formatIPv6(this.ip.buf, this.ip.srcOffset);
  }

  protected fragment(mtu: number, emit: (buf: Uint8Array, off: number, len: number) => void): boolean {
    this.fragmentId = (this.fragmentId + 1) >>> 0;
    return fragmentIPv6(this.ip, mtu, this.fragmentId, this.scratch, emit);
  }
}
