// npm run bench:split — the TUN offload edge per segment. The read side: a
// TCP super-packet of 44 segments of 1,388 bytes (what the kernel hands a
// TUN with TSO during an iperf3 run through the overlay), split by
// GsoSplitter into plain packets with their own headers and checksums;
// the same for TCPv6 and for a UDP (USO) super-packet. The write side: the
// 44 TCP segments merged back by GroCoalescer into one super-packet (their
// checksums verified first). Prints ns per segment. Before the addon did
// the per-segment work (commit 97492b0) the same script measured the
// TypeScript loops: docs/benchmarks.md has both, run side by side from two
// checkouts.
import { RxBatch, SpanList } from '../src/io/batch.js';
import { GroCoalescer } from '../src/tun/gro-coalesce.js';
import { payloadSum } from '../src/packet/payload-sum.js';
import { GsoSplitter } from '../src/tun/gso-split.js';
import { emptyVnetHdr, GSO_TCPV4, GSO_TCPV6, GSO_UDP_L4, VNET_F_NEEDS_CSUM, writeVnetHdr } from '../src/tun/virtio-net-hdr.js';

const ROUNDS = Number(process.env.BENCH_SPLIT_ROUNDS ?? 20_000);
const SEGMENTS = 44;

/** A super-packet of SEGMENTS segments of `gso` bytes after its virtio header. */
function superPacket(v6: boolean, tcp: boolean, gso: number): Uint8Array {
  const ihl = v6 ? 40 : 20;
  const l4 = tcp ? 32 : 8;
  const raw = new Uint8Array(10 + ihl + l4 + gso * SEGMENTS);
  const h = emptyVnetHdr();
  h.flags = VNET_F_NEEDS_CSUM;
  h.gsoType = tcp ? (v6 ? GSO_TCPV6 : GSO_TCPV4) : GSO_UDP_L4;
  h.gsoSize = gso;
  h.hdrLen = ihl + l4;
  h.csumStart = ihl;
  h.csumOffset = tcp ? 16 : 6;
  writeVnetHdr(raw, 0, h);
  const ip = 10;
  if (v6) {
    raw[ip] = 0x60;
    raw[ip + 6] = tcp ? 6 : 17;
    raw[ip + 7] = 64;
    raw[ip + 8] = 0xfd;
    raw[ip + 24] = 0xfd;
    raw[ip + 39] = 2;
  } else {
    raw.set([0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, 64, tcp ? 6 : 17, 0, 0, 10, 244, 1, 2, 10, 244, 2, 2], ip);
  }
  if (tcp) {
    raw[ip + ihl + 12] = (l4 / 4) << 4;
    raw[ip + ihl + 13] = 0x18;
  }
  for (let i = ip + ihl + l4; i < raw.length; i++) raw[i] = (i * 2654435761) >>> 24;
  return raw;
}

function nsPerSegment(raw: Uint8Array): number {
  const out = new RxBatch(64, 2048, 64);
  const splitter = new GsoSplitter(payloadSum);
  const once = (): number => {
    out.clear();
    const drop = splitter.split(raw, 0, raw.length, out, () => undefined);
    if (drop !== undefined) throw new Error(`split dropped the super-packet: ${drop}`);
    return out.count;
  };
  for (let i = 0; i < ROUNDS / 10; i++) once();
  let segments = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < ROUNDS; i++) segments += once();
  return Number(process.hrtime.bigint() - t0) / segments;
}

const cases: Array<[string, Uint8Array]> = [
  ['TCP over IPv4, 1388-byte segments', superPacket(false, true, 1388)],
  ['TCP over IPv6, 1368-byte segments', superPacket(true, true, 1368)],
  ['UDP over IPv4, 1400-byte datagrams', superPacket(false, false, 1400)],
];
/** Merging the segments `raw` splits into: ns per segment. */
function nsPerMergedSegment(raw: Uint8Array): number {
  const split = new RxBatch(64, 2048, 64);
  if (new GsoSplitter(payloadSum).split(raw, 0, raw.length, split, () => undefined) !== undefined) throw new Error('split dropped it');
  const spans = new SpanList(64);
  spans.reset(split.buf);
  for (let i = 0; i < split.count; i++) spans.add(split.offsets[i], split.sizes[i]);
  const coalescer = new GroCoalescer({ tcp: true, udp: true });
  const once = (): void => {
    coalescer.stage(spans, 0);
    if (coalescer.staged.count !== 1) throw new Error(`the segments did not merge into one (${coalescer.staged.count} items)`);
    coalescer.clear();
  };
  for (let i = 0; i < ROUNDS / 10; i++) once();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < ROUNDS; i++) once();
  return Number(process.hrtime.bigint() - t0) / (ROUNDS * spans.count);
}

process.stdout.write(`GsoSplitter.split and GroCoalescer.stage, ${SEGMENTS} segments per super-packet, ${ROUNDS} rounds (node ${process.version}, ${new Date().toISOString()}):\n`);
for (const [name, raw] of cases) process.stdout.write(`${`split, ${name}`.padEnd(44)} ${nsPerSegment(raw).toFixed(1).padStart(7)} ns per segment\n`);
process.stdout.write(`${'merge, the TCP over IPv4 segments'.padEnd(44)} ${nsPerMergedSegment(cases[0][1]).toFixed(1).padStart(7)} ns per segment\n`);
