// Run inside a lab namespace (node forge-datagrams.js SPEC): sends UDP
// datagrams with a forged outer source address through a raw socket
// (IP_HDRINCL), as an attacker on the underlay would. SPEC is JSON:
//   { src, dst, dstPort, kinds: [...], perKind, privateKey?, peerPublicKey?, payloadsFile? }
// kinds: random (random bytes), plaintext (a valid inner ICMP echo from
// `innerSrc` to `innerDst`), transport-looking (a WireGuard transport
// header with a random receiver index and fresh counters, random
// ciphertext), initiation (a WireGuard initiation with a valid mac1 for
// `peerPublicKey`, which is public, and random contents), payloads (the
// UDP payloads listed in payloadsFile, base64 one per line: a replay).
// Paced: `rate` datagrams per second when given, else 100 datagrams then
// 5 ms, so no receive buffer overflows; prints {"sent": N} and exits.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { native } from '../src/native/addon.js';
import { decodeKey } from '../src/wireguard/keys.js';
import { CookieGenerator } from '../src/wireguard/cookie.js';
import { INIT, INITIATION_SIZE, MSG_INITIATION, MSG_TRANSPORT } from '../src/wireguard/messages.js';
import { parseIPv4 } from '../src/packet/addr.js';
import { ICMP_TYPE, writeEchoPacket } from '../src/packet/icmp.js';
import { IPPROTO, writeIPv4Header } from '../src/packet/ipv4.js';

interface Spec {
  src: string;
  srcPort?: number;
  dst: string;
  dstPort: number;
  kinds: string[];
  perKind: number;
  innerSrc?: string;
  innerDst?: string;
  peerPublicKey?: string;
  payloadsFile?: string;
  /** Datagrams per second (paced in 10 ms steps). */
  rate?: number;
}

const spec = JSON.parse(process.argv[2]) as Spec;
const A = (s: string): number => parseIPv4(s)!;
const IPPROTO_RAW = 255;
const AF_INET = 2;
const SOCK_RAW = 3;
const fd = native.socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
const buf = new Uint8Array(2048);
const offsets = new Uint32Array([0]);
const lengths = new Uint32Array(1);
const addrs = new Uint32Array([A(spec.dst), 0]);
const macs = spec.peerPublicKey ? new CookieGenerator(decodeKey(spec.peerPublicKey, 'peerPublicKey')) : undefined;
let counter = 0;

function inner(into: Uint8Array, at: number, seq: number): number {
  return writeEchoPacket(into, at, { type: ICMP_TYPE.ECHO_REQUEST, src: A(spec.innerSrc ?? '10.244.2.99'), dst: A(spec.innerDst ?? '10.244.1.2'), id: 0x4f4f, seq, payload: new Uint8Array(56).fill(0x66) });
}

/** The UDP payload of datagram `i` of `kind`, written at buf[28]; returns its length. */
function payload(kind: string, i: number, replay: Uint8Array[]): number {
  const at = 28;
  switch (kind) {
    case 'random': {
      const n = 64 + (i % 1300);
      buf.set(randomBytes(n), at);
      return n;
    }
    case 'plaintext':
      return inner(buf, at, i);
    case 'transport-looking': {
      buf.fill(0, at, at + 16);
      buf[at] = MSG_TRANSPORT;
      buf.set(randomBytes(4), at + 4);
      new DataView(buf.buffer).setUint32(at + 8, counter++, true);
      const n = inner(buf, at + 16, i);
      buf.set(randomBytes(16), at + 16 + n);
      return n + 32;
    }
    case 'initiation': {
      if (!macs) throw new Error('initiation needs peerPublicKey');
      const m = new Uint8Array(randomBytes(INITIATION_SIZE));
      m.fill(0, 0, 4);
      m[0] = MSG_INITIATION;
      macs.addMacs(m, INIT.mac1, 0);
      buf.set(m, at);
      return INITIATION_SIZE;
    }
    case 'payloads': {
      const p = replay[i % replay.length];
      buf.set(p, at);
      return p.length;
    }
    default:
      throw new Error(`unknown kind ${kind}`);
  }
}

const replay = spec.payloadsFile ? readFileSync(spec.payloadsFile, 'utf8').trim().split('\n').map((l) => new Uint8Array(Buffer.from(l, 'base64'))) : [];
let sent = 0;
const started = Date.now();
for (const kind of spec.kinds) {
  const count = kind === 'payloads' ? Math.min(spec.perKind, replay.length) : spec.perKind;
  for (let i = 0; i < count; i++) {
    const n = payload(kind, i, replay);
    writeIPv4Header(buf, 0, { src: A(spec.src), dst: A(spec.dst), protocol: IPPROTO.UDP, payloadLength: 8 + n, ttl: 64 });
    const port = spec.srcPort ?? 8285;
    buf[20] = port >> 8; buf[21] = port & 0xff;
    buf[22] = spec.dstPort >> 8; buf[23] = spec.dstPort & 0xff;
    buf[24] = (8 + n) >> 8; buf[25] = (8 + n) & 0xff;
    buf[26] = 0; buf[27] = 0; // no UDP checksum (allowed over IPv4)
    lengths[0] = 28 + n;
    sent += native.sendBatch(fd, buf, offsets, lengths, addrs, 1);
    if (spec.rate) {
      if (sent % Math.max(1, Math.round(spec.rate / 100)) === 0) {
        const due = started + (sent / spec.rate) * 1000;
        await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now())));
      }
    } else if (sent % 100 === 0) await new Promise((r) => setTimeout(r, 5));
  }
}
native.close(fd);
process.stdout.write(`${JSON.stringify({ sent })}\n`);
