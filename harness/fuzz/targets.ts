// Fuzz targets: mutated inputs through every parser and both engines. Each
// target takes one input and throws only when a rule is broken (an
// exception escaped, an input was not accounted for exactly once, or an
// engine emitted a packet that breaks its own rules). `npm run fuzz` runs
// them long; test/fuzz/fuzz.test.ts runs them briefly in the suite.
import { RxBatch } from '../../src/io/batch.js';
import { parseNetworkConfig } from '../../src/subnet/etcd/network-config.js';
import { parseSubnetEntry } from '../../src/subnet/etcd/subnet-keys.js';
import { readRememberedSubnet } from '../../src/subnet/etcd/subnet-env.js';
import { decodeError, parseAttrs, parseMessages } from '../../src/netlink/nl/codec.js';
import { NLMSG } from '../../src/netlink/nl/constants.js';
import { parseLeases } from '../../src/subnet/leases.js';
import { Overlay } from '../../src/overlay/overlay.js';
import { parseCidr, parseIPv4, prefixContains } from '../../src/packet/addr.js';
import { fromHex, toHex } from '../../src/packet/bytes.js';
import { Reassembler } from '../../src/packet/fragment.js';
import { IcmpView, ICMP_TYPE } from '../../src/packet/icmp.js';
import { writeEchoPacket } from '../../src/packet/icmp.js';
import { IPv4View, IPPROTO, writeIPv4Header } from '../../src/packet/ipv4.js';
import { payloadSum } from '../../src/packet/payload-sum.js';
import { UdpView } from '../../src/packet/udp.js';
import { IcmpRelay } from '../../src/relay/relay.js';
import { TunDriverError } from '../../src/errors.js';
import { GroCoalescer } from '../../src/tun/gro-coalesce.js';
import { GsoSplitter } from '../../src/tun/gso-split.js';
import { MemoryTun } from '../../src/tun/memory-tun.js';
import { CAPTURED_TCP_SUPER, CAPTURED_UDP_NEEDS_CSUM, CAPTURED_UDP_SUPER } from '../../src/tun/offload.testdata.js';
import { SpanList } from '../../src/io/batch.js';
import { parseNetConf } from '../../src/cni/net-conf.js';
import { CniError } from '../../src/cni/cni-error.js';
import { wireguardOverlayPair } from '../wireguard-overlay-pair.js';
import { ipv6Targets } from './targets6.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { plainTransport } from '../../src/backend/udp/transport.js';
import { MemoryUdp } from '../../src/overlay/memory-udp.js';
import { MemoryIcmp } from '../../src/relay/memory-icmp.js';

/** A small, fast, seedable generator (the same seed gives the same run). */
export class Rng {
  constructor(private seed: number) {}
  next(n: number): number {
    this.seed = (Math.imul(this.seed, 1103515245) + 12345) >>> 0;
    return (this.seed >>> 8) % n;
  }
}

/** Bit flips, byte changes, truncation, extension, and the fields that matter most (lengths, fragments, options, header length). */
export function mutate(rng: Rng, seed: Uint8Array): Uint8Array {
  let b = seed.slice();
  const rounds = 1 + rng.next(4);
  for (let r = 0; r < rounds && b.length > 0; r++) {
    switch (rng.next(8)) {
      case 0: b[rng.next(b.length)] ^= 1 << rng.next(8); break;
      case 1: b[rng.next(b.length)] = rng.next(256); break;
      case 2: b = b.slice(0, rng.next(b.length + 1)); break;
      case 3: { const x = new Uint8Array(b.length + 1 + rng.next(64)); x.set(b); b = x; break; }
      case 4: if (b.length > 4) { b[2] = rng.next(256); b[3] = rng.next(256); } break; // IPv4 total length
      case 5: if (b.length > 8) { b[6] = rng.next(256); b[7] = rng.next(256); } break; // flags and fragment offset
      case 6: if (b.length > 0) b[0] = (b[0] & 0xf0) | rng.next(16); break; // header length
      case 7: if (b.length > 21) b[20 + rng.next(Math.min(20, b.length - 20))] = rng.next(256); break; // options or L4 header
    }
  }
  return b;
}

export interface Target {
  name: string;
  /** Runs one input; throws only when a rule is broken. */
  run(rng: Rng): void;
}

const A = (s: string): number => parseIPv4(s)!;
const SUBNET = parseCidr('10.244.1.0/24');
const NETWORK = parseCidr('10.244.0.0/16');

function udpPacket(src: number, dst: number, payload: number): Uint8Array {
  const b = new Uint8Array(28 + payload);
  writeIPv4Header(b, 0, { src, dst, protocol: IPPROTO.UDP, payloadLength: 8 + payload });
  b[24] = (8 + payload) >> 8;
  b[25] = (8 + payload) & 0xff;
  return b;
}

function echo(src: number, dst: number, type: number = ICMP_TYPE.ECHO_REQUEST): Uint8Array {
  const b = new Uint8Array(84);
  writeEchoPacket(b, 0, { type, src, dst, id: 7, seq: 1, payload: new Uint8Array(56).fill(9) });
  return b;
}

const PACKET_SEEDS = [
  echo(A('10.244.1.3'), A('198.51.100.2')),
  udpPacket(A('10.244.1.2'), A('10.244.2.2'), 100),
  udpPacket(A('10.244.2.2'), A('10.244.1.2'), 1400),
  fromHex(CAPTURED_TCP_SUPER).subarray(10),
];

const seedOf = (rng: Rng): Uint8Array => mutate(rng, PACKET_SEEDS[rng.next(PACKET_SEEDS.length)]);

const expectRejection = (fn: () => void): void => {
  try {
    fn();
  } catch (err) {
    if (err instanceof TunDriverError || err instanceof SyntaxError) return; // a clear refusal is the contract
    throw err;
  }
};

const ip = new IPv4View();
const icmp = new IcmpView();
const udp = new UdpView();

const views: Target = {
  name: 'packet views (IPv4, ICMP, UDP)',
  run(rng) {
    const p = seedOf(rng);
    ip.attach(p, 0, p.length);
    if (ip.check() !== undefined) return;
    if (ip.totalLength > p.length || ip.payloadOffset > ip.off + ip.totalLength) throw new Error('check() passed a packet longer than its bytes');
    if (ip.protocol === IPPROTO.ICMP) icmp.attach(p, ip.payloadOffset, ip.payloadLength).check();
    if (ip.protocol === IPPROTO.UDP) udp.attach(p, ip.payloadOffset, ip.payloadLength).check(ip.src, ip.dst);
  },
};

const reassembler = new Reassembler(8, 1000);
let reassemblyClock = 0;
const fragments: Target = {
  name: 'fragment reassembly',
  run(rng) {
    const p = mutate(rng, PACKET_SEEDS[rng.next(2)]);
    if (p.length > 8) p[6] = (p[6] & 0x1f) | (rng.next(2) << 5); // often MF
    ip.attach(p, 0, p.length);
    if (ip.check() !== undefined || !ip.isFragment) return;
    const out = reassembler.add(ip, (reassemblyClock += 10));
    if (out instanceof Uint8Array && new IPv4View(out, 0, out.length).check() !== undefined) throw new Error('reassembly made an invalid packet');
  },
};

const VNET_SEEDS = [fromHex(CAPTURED_TCP_SUPER), fromHex(CAPTURED_UDP_SUPER), fromHex(CAPTURED_UDP_NEEDS_CSUM)];
const splitter = new GsoSplitter(payloadSum);
const splitOut = new RxBatch(64, 2048);
const virtioSplit: Target = {
  name: 'TUN virtio header split',
  run(rng) {
    const raw = mutate(rng, VNET_SEEDS[rng.next(VNET_SEEDS.length)]);
    if (rng.next(2)) raw[rng.next(Math.min(10, raw.length || 1))] = rng.next(256); // the virtio header itself
    splitOut.clear();
    let handed = 0;
    const drop = splitter.split(raw, 0, raw.length, splitOut, (b) => { handed += b.count; });
    if (drop !== undefined && splitOut.count + handed > 0) throw new Error(`split dropped (${drop}) after emitting packets`);
    if (drop === undefined && splitOut.count + handed === 0) throw new Error('split neither emitted nor dropped');
  },
};

const coalescer = new GroCoalescer({ tcp: true, udp: true });
const coalesce: Target = {
  name: 'TUN merge (coalesce)',
  run(rng) {
    const n = 1 + rng.next(8);
    const packets = Array.from({ length: n }, () => (rng.next(3) ? PACKET_SEEDS[1 + rng.next(2)].slice() : seedOf(rng)));
    const spans = SpanList.copyOf(packets);
    coalescer.clear();
    if (coalescer.stage(spans, 0) !== n) throw new Error('not every packet was staged');
    let total = 0;
    for (let i = 0; i < coalescer.staged.count; i++) total += coalescer.packets[i];
    if (total !== n) throw new Error(`staged items carry ${total} packets, not ${n}`);
  },
};

const NETLINK_SEEDS = [
  fromHex('28000000100005003f56066b00000000000000000200000000000000000000000800040078050000'),
  fromHex('60000000020000024856066bf40a00009bffffff2c000000180005064856066b0000000002100000fe03000100000000080001000af7000008000500c0000201200001004e657874686f702068617320696e76616c6964206761746577617900'),
];
const netlink: Target = {
  name: 'netlink decoder',
  run(rng) {
    const b = mutate(rng, NETLINK_SEEDS[rng.next(NETLINK_SEEDS.length)]);
    for (const m of parseMessages(b)) {
      parseAttrs(m.data, Math.min(16, m.data.length));
      if (m.type === NLMSG.ERROR) decodeError(m);
    }
  },
};

const textMutate = (rng: Rng, s: string): string => new TextDecoder().decode(mutate(rng, new TextEncoder().encode(s)));
const LEASES_TEXT = JSON.stringify({ network: '10.244.0.0/16', nodes: [{ subnet: '10.244.1.0/24', publicIp: '198.51.100.1' }, { subnet: '10.244.2.0/24', publicIp: '198.51.100.2', port: 9000 }] });
const CNI_CONF_TEXT = '{"cniVersion":"1.0.0","name":"cbr0","type":"tun-driver-cni","delegate":{"hairpinMode":true,"mtu":1450}}';
const CONFIG_TEXT = '{"Network":"10.244.0.0/16","SubnetLen":24,"SubnetMin":"10.244.1.0","SubnetMax":"10.244.9.0","Backend":{"Type":"udp","Port":8285}}';
const config = parseNetworkConfig(CONFIG_TEXT, '/coreos.com/network/config');
const scratch = mkdtempSync(join(tmpdir(), 'tdlab-fuzz-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));
const configs: Target = {
  name: 'leases, etcd values, subnet.env, CNI conf',
  run(rng) {
    expectRejection(() => parseLeases(JSON.parse(textMutate(rng, LEASES_TEXT)), NETWORK, 'leases.json'));
    expectRejection(() => parseNetworkConfig(textMutate(rng, CONFIG_TEXT), '/coreos.com/network/config'));
    parseSubnetEntry('/coreos.com/network', textMutate(rng, '/coreos.com/network/subnets/10.244.1.0-24'), textMutate(rng, '{"PublicIP":"198.51.100.1","BackendType":"udp"}'), config);
    const env = join(scratch, 'subnet.env');
    writeFileSync(env, textMutate(rng, 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=false\n'));
    readRememberedSubnet(env);
    // The CNI plugin's configuration: only the spec's errors, never a crash.
    try {
      parseNetConf(textMutate(rng, CNI_CONF_TEXT));
    } catch (err) {
      if (!(err instanceof CniError)) throw err;
    }
  },
};


function checkWritten(tun: MemoryTun, rule: (p: IPv4View) => string | undefined): void {
  for (const p of tun.written) {
    const v = new IPv4View(p, 0, p.length);
    const problem = v.check() ?? rule(v);
    if (problem) throw new Error(`wrote a packet into the TUN that breaks the rules: ${problem}`);
  }
  tun.written.length = 0;
}

/**
 * The overlay's drops that count inputs. There, 'error-rate-limited'
 * counts an ICMP error not sent about a packet already counted (as
 * no-route, say), so it is left out of the one-outcome accounting. In the
 * relay it is the outcome itself (a refused TCP packet is counted either
 * as the error answering it or as that error's suppression), so it stays.
 */
const inputDrops = (d: { total: number; get(r: string): number | undefined }): number => d.total - (d.get('error-rate-limited') ?? 0);

function engineTarget(kind: 'relay' | 'overlay'): Target {
  const tun = new MemoryTun();
  // The relay's refusal path answers with an error as well as counting a
  // drop, which one-outcome accounting cannot tell apart: relay.test.ts covers it.
  // The overlay's socket refuses some sends as the kernel may (by length, so a mutation decides).
  const udp = new MemoryUdp(false);
  udp.refuseWhen = (length) => ((length & 7) === 7 ? 'EHOSTUNREACH' : undefined);
  const icmp = new MemoryIcmp(false);
  const sentCount = (): number => (kind === 'overlay' ? udp.sentCount : icmp.sentCount);
  const batch = new RxBatch(4, 65536);
  const relay = kind === 'relay' ? new IcmpRelay(tun, icmp, { subnet: parseCidr('10.244.1.3/24'), tunMtu: 1500, localAddresses: new Set([A('198.51.100.1')]), now: () => 1000 }) : undefined;
  const overlay = kind === 'overlay' ? new Overlay(tun, udp, { transport: plainTransport, network: NETWORK, subnet: SUBNET, tunMtu: 1472, pathMtu: 1472, now: () => 0 }) : undefined;
  overlay?.setLeases(parseLeases(JSON.parse(LEASES_TEXT), NETWORK, 'fuzz'));
  const feed = (p: Uint8Array, fromNet: boolean): void => {
    batch.clear();
    batch.append(p.subarray(0, 65536), A('198.51.100.2'), 8285);
    if (relay) (fromNet ? relay.fromNetwork(batch) : relay.fromTun(batch));
    else (fromNet ? overlay!.fromNetwork(batch) : overlay!.fromTun(batch));
  };
  return {
    name: `${kind} engine, both directions`,
    run(rng) {
      const p = seedOf(rng);
      const fromNet = rng.next(2) === 1;
      if (relay) {
        const c = relay.counters;
        const before = fromNet ? c.replies + c.errorsRelayed + c.ignored + c.ownCopies + c.drops.total : c.requests + c.errorsGenerated + c.fragmentsIn + c.drops.total;
        feed(p, fromNet);
        const after = fromNet ? c.replies + c.errorsRelayed + c.ignored + c.ownCopies + c.drops.total : c.requests + c.errorsGenerated + c.fragmentsIn + c.drops.total;
        const isFragment = p.length >= 8 && ((p[6] << 8 | p[7]) & 0x3fff) !== 0;
        if (after - before !== 1 && !(isFragment && after - before >= 1)) throw new Error(`relay counted one input ${after - before} times (${fromNet ? 'from the network' : 'from the TUN'}: ${toHex(p.subarray(0, 48))})`);
        if ((c.drops.get('internal-error') ?? 0) > 0) throw new Error('relay internal-error');
        checkWritten(tun, (v) => (prefixContains(SUBNET, v.dst) ? undefined : `addressed to ${v.dst >>> 0} outside the TUN subnet`));
      } else {
        const c = overlay!.counters;
        if (fromNet) {
          const before = c.delivered + inputDrops(c.drops);
          feed(p, true);
          if (c.delivered + inputDrops(c.drops) - before !== 1) throw new Error('overlay did not count a datagram exactly once');
          checkWritten(tun, (v) => (v.protocol === IPPROTO.ICMP || prefixContains(SUBNET, v.dst) ? undefined : 'delivered outside this node\'s subnet'));
        } else {
          // Either dropped once for a reason, or sent (as one datagram or
          // as fragments, each of which may be refused and counted).
          const refused = (): number => c.drops.get('send-failed') ?? 0;
          const [drops0, sent0, refused0] = [inputDrops(c.drops), sentCount(), refused()];
          feed(p, false);
          const attempts = sentCount() - sent0 + refused() - refused0;
          const otherDrops = inputDrops(c.drops) - drops0 - (refused() - refused0);
          if (!((otherDrops === 1 && attempts === 0) || (otherDrops === 0 && attempts >= 1))) {
            throw new Error(`overlay: a TUN packet ended as ${otherDrops} drops and ${attempts} sends`);
          }
          checkWritten(tun, () => undefined);
        }
      }
    },
  };
}

/**
 * A WireGuard overlay fed the messages of a real peer (a WireGuard
 * transport of its own, handshake done): its initiation and response,
 * transport messages and keepalives, intact and mutated. Each must be
 * counted once (delivered, consumed by WireGuard, or a drop), and only an
 * unmutated transport message may reach the TUN.
 */
function wireguardTarget(): Target {
  const { overlay, tun, handshake, seal: sealOne, feed, toPeer } = wireguardOverlayPair();
  return {
    name: 'wireguard overlay, from the network',
    run(rng) {
      const inner = new Uint8Array(84);
      writeEchoPacket(inner, 0, { type: ICMP_TYPE.ECHO_REQUEST, src: A('10.244.2.5'), dst: A('10.244.1.5'), id: 7, seq: rng.next(65536), payload: new Uint8Array(56) });
      const real = rng.next(8) === 0 ? handshake[rng.next(2)] : sealOne(inner);
      const intact = rng.next(4) === 0;
      const p = intact ? real.slice() : mutate(rng, real.slice());
      const c = overlay.counters;
      const before = c.delivered + c.wireguardConsumed + inputDrops(c.drops);
      feed(p);
      if (c.delivered + c.wireguardConsumed + inputDrops(c.drops) - before !== 1) throw new Error('wireguard overlay did not count a datagram exactly once');
      const unchanged = p.length === real.length && p.every((b, k) => b === real[k]);
      if (tun.written.length > (unchanged ? 1 : 0)) throw new Error(`a mutated WireGuard message reached the TUN: ${toHex(p.subarray(0, 48))}`);
      tun.written.length = 0;
      toPeer.length = 0;
    },
  };
}

export function allTargets(): Target[] {
  return [views, fragments, virtioSplit, coalesce, netlink, configs, engineTarget('relay'), engineTarget('overlay'), wireguardTarget(), ...ipv6Targets(mutate)];
}

/** Runs every target for `inputs` inputs each (or until `deadlineMs`); returns inputs/s per target. Throws on the first broken rule, naming the target and input number. */
export function runFuzz(seed: number, inputs: number, deadlineMs = Infinity, onTarget?: (name: string, count: number, perSecond: number) => void): number {
  let total = 0;
  for (const t of allTargets()) {
    const rng = new Rng(seed);
    const started = performance.now();
    let n = 0;
    for (; n < inputs && performance.now() < deadlineMs; n++) {
      try {
        t.run(rng);
      } catch (err) {
        throw new Error(`fuzz target "${t.name}", input ${n} of seed ${seed}: ${(err as Error).stack ?? err}`);
      }
    }
    total += n;
    onTarget?.(t.name, n, n / ((performance.now() - started) / 1000));
  }
  return total;
}
