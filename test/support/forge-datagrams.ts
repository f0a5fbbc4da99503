// Run inside a lab namespace (node forge-datagrams.js SPEC): sends UDP
// datagrams with a forged outer source address through a raw socket
// (IP_HDRINCL), as an attacker on the underlay would. SPEC is JSON:
//   { src, dst, dstPort, kinds: [...], perKind, privateKey?, peerPublicKey?, payloadsFile? }
// kinds: random (random bytes), plaintext (a valid inner ICMP echo from
// `innerSrc` to `innerDst`), sealed-looking (a sealed header with a current
// epoch and fresh counters, random ciphertext), sealed-own-key (really
// sealed, with the sender's own key towards `peerPublicKey`), payloads
// (the UDP payloads listed in payloadsFile, base64 one per line: a replay).
// Paced (100 datagrams, then 5 ms) so no receive buffer overflows; prints
// {"sent": N} and exits.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { native } from '../../src/native/addon.js';
import { keyPairOf } from '../../src/crypto/keys.js';
import { PeerSession } from '../../src/crypto/peer-session.js';
import { writeSealedHeader } from '../../src/crypto/sealed-datagram.js';
import { parseIPv4 } from '../../src/packet/addr.js';
import { ICMP_TYPE, writeEchoPacket } from '../../src/packet/icmp.js';
import { IPPROTO, writeIPv4Header } from '../../src/packet/ipv4.js';

interface Spec {
  src: string;
  srcPort?: number;
  dst: string;
  dstPort: number;
  kinds: string[];
  perKind: number;
  innerSrc?: string;
  innerDst?: string;
  privateKey?: string;
  peerPublicKey?: string;
  payloadsFile?: string;
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
const session = spec.privateKey && spec.peerPublicKey ? new PeerSession({ keys: keyPairOf(spec.privateKey), epoch: Date.now() }, spec.peerPublicKey) : undefined;
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
    case 'sealed-looking': {
      writeSealedHeader(buf, at, Date.now(), counter++);
      const n = inner(buf, at + 16, i);
      buf.set(randomBytes(16), at + 16 + n);
      return n + 32;
    }
    case 'sealed-own-key': {
      if (!session) throw new Error('sealed-own-key needs privateKey and peerPublicKey');
      const n = inner(buf, at + 16, i);
      return session.seal(buf, at, n);
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
    if (sent % 100 === 0) await new Promise((r) => setTimeout(r, 5));
  }
}
native.close(fd);
process.stdout.write(`${JSON.stringify({ sent })}\n`);
