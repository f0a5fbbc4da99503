// The thin vertical slice: a real TUN in a lab namespace, hand-built ICMP
// echo requests written with the batch writer, and the kernel's echo
// replies read back with the batch reader (readiness-driven).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PacketBatch } from '../../src/io/batch.js';
import { LinuxTun } from '../../src/tun/linux-tun.js';
import { IPv4View, IPPROTO, writeIPv4Header } from '../../src/packet/ipv4.js';
import { IcmpView, ICMP_TYPE, writeIcmpEcho } from '../../src/packet/icmp.js';
import { parseIPv4 } from '../../src/packet/addr.js';
import { ROOT_SKIP, scratchNetns } from './helpers.js';

const TUN_ADDR = parseIPv4('10.244.9.1')!;
const PEER_ADDR = parseIPv4('10.244.9.2')!;
const SLOT = 2048;

function echoRequest(id: number, seq: number, payload: Uint8Array): Uint8Array {
  const p = new Uint8Array(20 + 8 + payload.length);
  writeIcmpEcho(p, 20, ICMP_TYPE.ECHO_REQUEST, id, seq, payload);
  writeIPv4Header(p, 0, { src: PEER_ADDR, dst: TUN_ADDR, protocol: IPPROTO.ICMP, payloadLength: 8 + payload.length, ttl: 64, id: seq });
  return p;
}

/**
 * Writes `count` requests in batches with at most WINDOW outstanding (the
 * TUN's transmit ring holds 500 packets, shared with the kernel's own IPv6
 * chatter) and collects the replies until all came back or time runs out.
 */
const WINDOW = 256;

async function roundTrip(tun: LinuxTun, count: number, timeoutMs: number): Promise<Map<number, Uint8Array>> {
  const replies = new Map<number, Uint8Array>();
  const rx = new PacketBatch(256, SLOT);
  const tx = new PacketBatch(WINDOW, SLOT);
  const ip = new IPv4View();
  const icmp = new IcmpView();
  let sent = 0;
  const sendMore = (): void => {
    tx.clear();
    while (tx.count < tx.capacity && sent < count && sent - replies.size < WINDOW) {
      tx.push(echoRequest(0x4242, sent, new Uint8Array(56).fill(sent & 0xff)));
      sent++;
    }
    const result = tun.writeBatch(tx);
    assert.equal(result.failed, 0);
    assert.equal(result.written, tx.count);
  };
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => resolve(), timeoutMs);
    tun.startReading(rx, (batch) => {
      for (let i = 0; i < batch.count; i++) {
        ip.attach(batch.buf, batch.offset(i), batch.sizes[i]);
        if (ip.check() !== undefined || ip.protocol !== IPPROTO.ICMP) continue; // e.g. IPv6 router solicitations
        icmp.attach(batch.buf, ip.payloadOffset, ip.payloadLength);
        if (icmp.check() !== undefined || icmp.type !== ICMP_TYPE.ECHO_REPLY) continue;
        assert.equal(ip.src, TUN_ADDR);
        assert.equal(ip.dst, PEER_ADDR);
        replies.set(icmp.seq, batch.buf.slice(icmp.dataOffset, icmp.off + icmp.length));
      }
      if (replies.size === count) {
        clearTimeout(timer);
        resolve();
      } else {
        sendMore();
      }
    }, reject);
    sendMore();
  });
  tun.stopReading();
  return replies;
}

test('one echo request through a real TUN comes back as the kernel\'s reply', { skip: ROOT_SKIP }, async () => {
  const ns = scratchNetns('slice');
  const tun = LinuxTun.create({ name: 'tdtun0', addresses: ['10.244.9.1/24'], netns: ns });
  try {
    const replies = await roundTrip(tun, 1, 5000);
    assert.equal(replies.size, 1);
    assert.deepEqual(replies.get(0), new Uint8Array(56).fill(0));
    const stats = tun.stats()!;
    assert.ok(stats.rxPackets >= 1 && stats.txPackets >= 1, `stats ${JSON.stringify(stats)}`);
  } finally {
    tun.close();
  }
});

test('a batch of 1,000 echo requests: every reply comes back, intact', { skip: ROOT_SKIP }, async () => {
  const ns = scratchNetns('slice1k');
  const tun = LinuxTun.create({ name: 'tdtun0', addresses: ['10.244.9.1/24'], netns: ns });
  try {
    const replies = await roundTrip(tun, 1000, 15000);
    assert.equal(replies.size, 1000, `got ${replies.size} of 1000 replies`);
    for (const [seq, payload] of replies) assert.deepEqual(payload, new Uint8Array(56).fill(seq & 0xff));
  } finally {
    tun.close();
  }
});
