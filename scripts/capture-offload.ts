// npm run capture:offload — captures what a real TUN with offloads on
// hands to its reader, for the offload unit tests (src/tun/offload.testdata.ts):
//   tcp  a TSO super-packet: a kernel TCP socket in a scratch namespace
//        connects through the TUN; this script answers the SYN itself, and
//        the kernel then sends its first flight as one super-packet.
//   udp  a USO super-packet: a UDP_SEGMENT send of 8 datagrams through it.
//   csum one small UDP datagram, its checksum left to the reader (NEEDS_CSUM).
// Everything stays in the tdlab-capture namespace, removed at the end.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { C, native } from '../src/native/addon.js';
import { netnsCreate, netnsDelete, netnsExists, withNetns } from '../src/netns/netns.js';
import { NetlinkSocket } from '../src/netlink/socket.js';
import { linkByName, linkSetUp, linkSetMtu } from '../src/netlink/link.js';
import { addrAdd } from '../src/netlink/addr.js';
import { parseCidr, parseIPv4 } from '../src/packet/addr.js';
import { get16, get32, put16, put32, toHex } from '../src/packet/bytes.js';
import { IPPROTO, writeIPv4Header } from '../src/packet/ipv4.js';
import { l4Checksum, payloadSum } from '../src/packet/payload-sum.js';
import { negotiateOffloads } from '../src/tun/offload.js';
import { GSO_NONE, readVnetHdr, emptyVnetHdr, VNET_HDR_LEN } from '../src/tun/virtio-net-hdr.js';

const NS = 'tdlab-capture';
const LOCAL = '10.244.9.1';
const PEER = '10.244.9.2';
const OUT = new URL('../../src/tun/offload.testdata.ts', import.meta.url).pathname;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Reads from the TUN until `want` says yes or 3 s pass. */
async function readUntil(fd: number, what: string, want: (p: Uint8Array) => boolean): Promise<Uint8Array> {
  const buf = new Uint8Array(70000);
  const sizes = new Uint32Array(1);
  for (let t = 0; t < 300; t++) {
    while (native.readBatch(fd, buf, buf.length, 0, 1, sizes) === 1) {
      const p = buf.slice(0, sizes[0]);
      if (want(p)) return p;
    }
    await sleep(10);
  }
  throw new Error(`timed out waiting for ${what} on the TUN`);
}

const ip = (_p: Uint8Array): number => VNET_HDR_LEN;
const isTcp = (p: Uint8Array): boolean => p[ip(p)] >>> 4 === 4 && p[ip(p) + 9] === IPPROTO.TCP;

/** The SYN-ACK for a SYN (MSS 512, no other options), written into the TUN behind an empty virtio header. */
function synAck(fd: number, syn: Uint8Array): void {
  const o = VNET_HDR_LEN;
  const ihl = (syn[o] & 0x0f) * 4;
  const b = new Uint8Array(VNET_HDR_LEN + 20 + 24);
  writeIPv4Header(b, o, { src: get32(syn, o + 16), dst: get32(syn, o + 12), protocol: IPPROTO.TCP, payloadLength: 24, dontFragment: true });
  const t = o + 20;
  put16(b, t, get16(syn, o + ihl + 2));
  put16(b, t + 2, get16(syn, o + ihl));
  put32(b, t + 4, 1000);
  put32(b, t + 8, (get32(syn, o + ihl + 4) + 1) >>> 0);
  b[t + 12] = 6 << 4;
  b[t + 13] = 0x12; // SYN ACK
  put16(b, t + 14, 65535);
  b.set([2, 4, 0x02, 0x00], t + 20); // MSS 512: a flight of many segments
  put16(b, t + 16, l4Checksum(payloadSum, b, o, t, b.length, IPPROTO.TCP));
  native.writeBatch(fd, b, Uint32Array.of(0), Uint32Array.of(b.length), 1);
}

async function main(): Promise<void> {
  if (netnsExists(NS)) netnsDelete(NS);
  netnsCreate(NS);
  try {
    const fd = withNetns(NS, () => native.tunOpen('tdcap0', C.IFF_TUN | C.IFF_NO_PI | C.IFF_VNET_HDR).fd);
    const offload = negotiateOffloads(fd);
    const nl = NetlinkSocket.open({ netns: NS });
    const link = linkByName(nl, 'tdcap0');
    linkSetMtu(nl, link.index, 1500);
    addrAdd(nl, link.index, parseCidr(`${LOCAL}/24`));
    linkSetUp(nl, link.index, true);
    nl.close();

    // TCP: a client sends 40 KB; the first flight after our SYN-ACK is a super-packet.
    const client = spawn('ip', ['netns', 'exec', NS, process.execPath, '-e',
      `const s=require('net').connect(5001,'${PEER}',()=>{s.write(Buffer.alloc(40000,0x5a));setTimeout(()=>process.exit(0),1500)});s.on('error',()=>{})`], { stdio: 'ignore' });
    const syn = await readUntil(fd, 'the SYN', (p) => isTcp(p) && (p[ip(p) + 20 + 13] & 0x02) !== 0);
    synAck(fd, syn);
    const hdr = emptyVnetHdr();
    const tcpSuper = await readUntil(fd, 'a TCP super-packet', (p) => isTcp(p) && readVnetHdr(p, 0, hdr).gsoType !== GSO_NONE);
    client.kill();

    // UDP: one UDP_SEGMENT send of 8 datagrams (the last shorter) through the TUN.
    const udpFd = withNetns(NS, () => native.socket(C.AF_INET, C.SOCK_DGRAM, C.IPPROTO_UDP));
    native.bindInet(udpFd, parseIPv4(LOCAL)!, 0);
    const payload = new Uint8Array(8 * 1000 - 300).map((_, i) => i & 0xff);
    const n = 8;
    const offsets = Uint32Array.from({ length: n }, (_, i) => i * 1000);
    const lengths = Uint32Array.from({ length: n }, (_, i) => Math.min(1000, payload.length - i * 1000));
    native.sendSegments(udpFd, payload, offsets, lengths, 0, n, parseIPv4(PEER)!, 7000, 1000);
    const udpSuper = await readUntil(fd, 'a UDP super-packet', (p) => p[ip(p) + 9] === IPPROTO.UDP && readVnetHdr(p, 0, hdr).gsoType !== GSO_NONE);
    // One small datagram: left with NEEDS_CSUM.
    native.sendBatch(udpFd, payload, Uint32Array.of(0), Uint32Array.of(100), Uint32Array.of(parseIPv4(PEER)!, 7001), 1);
    const udpSmall = await readUntil(fd, 'a small UDP datagram', (p) => p[ip(p) + 9] === IPPROTO.UDP && get16(p, ip(p) + 22) === 7001);
    native.close(udpFd);
    native.close(fd);

    writeFileSync(OUT, `// Captured from a real TUN with offloads ${offload.summary} (Linux, scripts/capture-offload.ts):
// each is what one read() returned, virtio_net_hdr first. Regenerate with
// npm run capture:offload (as root).
export const CAPTURED_TCP_SUPER = '${toHex(tcpSuper)}';
export const CAPTURED_UDP_SUPER = '${toHex(udpSuper)}';
export const CAPTURED_UDP_NEEDS_CSUM = '${toHex(udpSmall)}';
`);
    console.log(`captured: tcp ${tcpSuper.length} bytes, udp ${udpSuper.length} bytes, small udp ${udpSmall.length} bytes -> ${OUT}`);
  } finally {
    netnsDelete(NS);
  }
}

main().catch((err) => {
  console.error(`capture:offload: ${err instanceof Error ? err.message : err}`);
  if (netnsExists(NS)) netnsDelete(NS);
  process.exitCode = 1;
});
