// Fuzz targets for IPv6: the IPv6 and ICMPv6 views, IPv6 reassembly, and
// the IPv6 relay engine in both directions. Same rules as targets.ts: an
// exception escaping, an input not counted exactly once, or a packet
// written into the TUN that breaks the engine's rules is a failure.
import { RxBatch } from '../../src/io/batch.js';
import { formatIPv6, parseCidr6, parseIPv6, prefix6Contains } from '../../src/packet/addr6.js';
import { fromHex, toHex } from '../../src/packet/bytes.js';
import { ECHO6_FRAGMENT_FIRST, ECHO6_FRAGMENT_LAST, ECHO6_REQUEST, ROUTER_SOLICIT } from '../../src/packet/captured6.testdata.js';
import { Reassembler6 } from '../../src/packet/fragment6.js';
import { Icmp6View, ICMP6_TYPE, writeEcho6Packet } from '../../src/packet/icmp6.js';
import { writeIcmp6Error } from '../../src/packet/icmp6-errors.js';
import { IPv6View, NEXT_HEADER, writeIPv6Header } from '../../src/packet/ipv6.js';
import { Icmp6Relay } from '../../src/relay/relay6.js';
import { MemoryTun } from '../../src/tun/memory-tun.js';
import { UdpView } from '../../src/packet/udp.js';
import { SpanList } from '../../src/io/batch.js';
import { get16, put16, put32 } from '../../src/packet/bytes.js';
import { l4Checksum, l4ChecksumValid, payloadSum } from '../../src/packet/payload-sum.js';
import { GroCoalescer } from '../../src/tun/gro-coalesce.js';
import { GsoSplitter } from '../../src/tun/gso-split.js';
import { GSO_NONE } from '../../src/tun/virtio-net-hdr.js';
import type { Rng, Target } from './targets.js';
import { MemoryIcmp6 } from '../../src/relay/memory-icmp.js';

type Mutate = (rng: Rng, seed: Uint8Array) => Uint8Array;

const A = (s: string): Uint8Array => parseIPv6(s)!;
const SUBNET6 = parseCidr6('fd00:1::3/64');
const HOST = A('2001:db8:a::1');

function echo6(type: number, src: Uint8Array, dst: Uint8Array, size = 56): Uint8Array {
  const b = new Uint8Array(48 + size);
  writeEcho6Packet(b, 0, { type, src, dst, id: 7, seq: 1, payload: new Uint8Array(size).fill(9) });
  return b;
}

/** An echo request behind a hop-by-hop and a destination-options header: the extension-header walk. */
function withExtensions(): Uint8Array {
  const inner = echo6(ICMP6_TYPE.ECHO_REQUEST, A('fd00:1::3'), A('2001:db8:b::2'));
  const b = new Uint8Array(inner.length + 16);
  writeIPv6Header(b, 0, { src: inner.subarray(8, 24), dst: inner.subarray(24, 40), nextHeader: NEXT_HEADER.HOP_BY_HOP, payloadLength: inner.length - 40 + 16 });
  b.set([NEXT_HEADER.DEST_OPTIONS, 0, 1, 4, 0, 0, 0, 0], 40); // hop-by-hop: PadN
  b.set([NEXT_HEADER.ICMPV6, 0, 1, 4, 0, 0, 0, 0], 48); // destination options: PadN
  b.set(inner.subarray(40), 56);
  return b;
}

/** An error from a router about a request the host sent (what the network side delivers). */
function routerError(): Uint8Array {
  const request = echo6(ICMP6_TYPE.ECHO_REQUEST, HOST, A('2001:db8:b::2'));
  const b = new Uint8Array(1280);
  return b.slice(0, writeIcmp6Error(b, 0, ICMP6_TYPE.TIME_EXCEEDED, 0, A('2001:db8:a::fe'), new IPv6View(request)));
}

/** A UDP datagram over IPv6, checksummed. */
function udp6(): Uint8Array {
  const b = new Uint8Array(40 + 8 + 32);
  writeIPv6Header(b, 0, { src: A('fd00:10:244:1::2'), dst: A('fd00:10:244:2::2'), nextHeader: NEXT_HEADER.UDP, payloadLength: 40 });
  put16(b, 40, 5000);
  put16(b, 42, 53);
  put16(b, 44, 40);
  b.fill(7, 48);
  put16(b, 46, l4Checksum(payloadSum, b, 0, 40, b.length, NEXT_HEADER.UDP));
  return b;
}

const SEEDS6 = [fromHex(ECHO6_REQUEST), fromHex(ROUTER_SOLICIT), fromHex(ECHO6_FRAGMENT_FIRST), fromHex(ECHO6_FRAGMENT_LAST), withExtensions(), udp6()];
const NET_SEEDS6 = [echo6(ICMP6_TYPE.ECHO_REPLY, A('2001:db8:b::2'), HOST), routerError(), echo6(ICMP6_TYPE.ECHO_REPLY, A('2001:db8:b::2'), A('fd00:1::3'))];

/** Problems a reassembled packet may have only if reassembly itself is wrong (its extension headers may be as mutated as its input). */
const STRUCTURAL = new Set(['truncated', 'not-ipv6', 'bad-payload-length']);

function viewsTarget(mutate: Mutate): Target {
  const ip = new IPv6View();
  const icmp = new Icmp6View();
  const udp = new UdpView();
  const reassembler = new Reassembler6(8, 1000);
  let clock = 0;
  return {
    name: 'packet views (IPv6, ICMPv6, UDP) and IPv6 reassembly',
    run(rng) {
      const p = mutate(rng, SEEDS6[rng.next(SEEDS6.length)]);
      ip.attach(p, 0, p.length);
      if (ip.check() !== undefined) return;
      if (ip.totalLength > p.length || ip.payloadOffset > ip.off + ip.totalLength) throw new Error('check() passed a packet longer than its bytes');
      if (ip.protocol === NEXT_HEADER.ICMPV6 && !ip.isFragment) icmp.attachTo(ip).check();
      if (ip.protocol === NEXT_HEADER.UDP && !ip.isFragment) udp.attach(p, ip.payloadOffset, ip.upperLength).check6(ip);
      if (!ip.isFragment) return;
      const out = reassembler.add(ip, (clock += 10));
      if (out instanceof Uint8Array) {
        const problem = new IPv6View(out).check();
        if (problem !== undefined && STRUCTURAL.has(problem)) throw new Error(`reassembly made a malformed packet (${problem})`);
      }
    },
  };
}


function relay6Target(mutate: Mutate): Target {
  const tun = new MemoryTun();
  const net = new MemoryIcmp6(false);
  net.refuseWhen = (length) => ((length & 7) === 7 ? 'ENETUNREACH' : undefined);
  const relay = new Icmp6Relay(tun, net, { subnet: SUBNET6, tunMtu: 1500, localAddresses: new Set([formatIPv6(HOST)]), now: () => 1000 });
  const batch = new RxBatch(4, 65536);
  const c = relay.counters;
  const tunOutcomes = (): number => c.requests + c.errorsGenerated + c.fragmentsIn + c.linkChatter + c.drops.total;
  const netOutcomes = (): number => c.replies + c.errorsRelayed + c.ignored + c.ownCopies + c.drops.total;
  return {
    name: 'relay engine, IPv6, both directions',
    run(rng) {
      // A request the fuzz net accepts, so the network side has flows to answer.
      batch.clear();
      batch.append(echo6(ICMP6_TYPE.ECHO_REQUEST, A('fd00:1::3'), A('2001:db8:b::2')));
      relay.fromTun(batch);
      tun.written.length = 0;
      const fromNet = rng.next(2) === 1;
      const p = mutate(rng, fromNet ? NET_SEEDS6[rng.next(NET_SEEDS6.length)] : SEEDS6[rng.next(SEEDS6.length)]);
      const before = fromNet ? netOutcomes() : tunOutcomes();
      batch.clear();
      batch.append(p.subarray(0, 65536));
      if (fromNet) relay.fromNetwork(batch);
      else relay.fromTun(batch);
      const counted = (fromNet ? netOutcomes() : tunOutcomes()) - before;
      const probe = new IPv6View(p);
      const fragment = probe.check() === undefined && probe.isFragment;
      if (counted !== 1 && !(fragment && counted >= 1)) throw new Error(`IPv6 relay counted one input ${counted} times (${fromNet ? 'from the network' : 'from the TUN'}: ${toHex(p.subarray(0, 48))})`);
      if ((c.drops.get('internal-error') ?? 0) > 0) throw new Error('IPv6 relay internal-error');
      for (const w of tun.written) {
        const v = new IPv6View(w);
        const problem = v.check() ?? (prefix6Contains(SUBNET6, w, v.dstOffset) ? undefined : `addressed to ${formatIPv6(w, v.dstOffset)} outside the TUN subnet`);
        if (problem) throw new Error(`wrote a packet into the TUN that breaks the rules: ${problem}`);
      }
      tun.written.length = 0;
    },
  };
}

/** A TCPv6 segment of one flow (the k-th, `size` bytes of payload), checksummed. */
function tcp6Segment(k: number, size = 600): Uint8Array {
  const p = new Uint8Array(60 + size);
  put32(p, 0, 0x60000000);
  put16(p, 4, 20 + size);
  p[6] = NEXT_HEADER.TCP;
  p[7] = 64;
  p.set(A('fd00:10:244:2::2'), 8);
  p.set(A('fd00:10:244:1::2'), 24);
  put16(p, 40, 5201);
  put16(p, 42, 40000);
  put32(p, 44, (1000 + k * size) >>> 0);
  p[52] = 5 << 4;
  p[53] = 0x10;
  put16(p, 54, 501);
  for (let i = 0; i < size; i++) p[60 + i] = (k + i) & 0xff;
  put16(p, 56, l4Checksum(payloadSum, p, 0, 40, p.length, NEXT_HEADER.TCP));
  return p;
}

/**
 * The TUN edge in IPv6: runs of TCPv6 segments, some mutated, merged as
 * the write side does; every merged item must split back (the read side)
 * into exactly the segments that went in, each with a valid checksum.
 */
function offload6Target(mutate: Mutate): Target {
  const coalescer = new GroCoalescer({ tcp: true, udp: true });
  const splitter = new GsoSplitter(payloadSum);
  const out = new RxBatch(128, 2048);
  return {
    name: 'TUN merge and split, IPv6',
    run(rng) {
      const n = 1 + rng.next(8);
      const packets = Array.from({ length: n }, (_, k) => (rng.next(4) ? tcp6Segment(k) : mutate(rng, tcp6Segment(k))));
      coalescer.clear();
      if (coalescer.stage(SpanList.copyOf(packets), 0) !== n) throw new Error('not every IPv6 packet was staged');
      let total = 0;
      for (let i = 0; i < coalescer.staged.count; i++) {
        total += coalescer.packets[i];
        const item = coalescer.staged.buf.slice(coalescer.staged.offsets[i], coalescer.staged.offsets[i] + coalescer.staged.lengths[i]);
        if (item[1] === GSO_NONE) continue;
        out.clear();
        const drop = splitter.split(item, 0, item.length, out, () => { throw new Error('more segments than a batch'); });
        if (drop !== undefined) throw new Error(`a merged IPv6 run did not split back (${drop})`);
        if (out.count !== coalescer.packets[i]) throw new Error(`a run of ${coalescer.packets[i]} split into ${out.count}`);
        for (let k = 0; k < out.count; k++) {
          const seg = out.packet(k);
          if (get16(seg, 4) !== seg.length - 40 || !l4ChecksumValid(payloadSum, seg, 0, 40, seg.length, NEXT_HEADER.TCP)) throw new Error('a split IPv6 segment is malformed');
        }
      }
      if (total !== n) throw new Error(`staged items carry ${total} packets, not ${n}`);
    },
  };
}

/** The IPv6 targets, with the mutator of targets.ts. */
export function ipv6Targets(mutate: Mutate): Target[] {
  return [viewsTarget(mutate), relay6Target(mutate), offload6Target(mutate)];
}
