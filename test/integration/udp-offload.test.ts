// The socket layer's UDP offloads on real sockets, in a scratch namespace
// (its loopback, MTU 1500 like an underlay): a run leaves in one UDP GSO
// send and arrives as the same datagrams through a UDP_GRO reader; a run
// the kernel will not segment falls back to sendmmsg with one notice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RxBatch, SpanList } from '../../src/io/batch.js';
import { DatagramSocket } from '../../src/io/datagram-socket.js';
import { C, native } from '../../src/native/addon.js';
import { withNetns } from '../../src/netns/netns.js';
import { parseIPv4 } from '../../src/packet/addr.js';
import { ROOT_SKIP, run, scratchNetns } from './helpers.js';

const LOOPBACK = parseIPv4('127.0.0.1')!;
/** SO_NO_CHECK: no UDP checksums on send, which UDP GSO cannot do (EINVAL). */
const SO_NO_CHECK = 11;

function udpSocket(ns: string, port: number, gso: boolean, onGsoOff?: (errno: string) => void): DatagramSocket {
  const fd = withNetns(ns, () => native.socket(C.AF_INET, C.SOCK_DGRAM | C.SOCK_NONBLOCK, C.IPPROTO_UDP));
  native.bindInet(fd, LOOPBACK, port);
  return new DatagramSocket(fd, { gso, onGsoOff });
}

/** Datagram i is `sizes[i]` bytes of the value i. */
function spansOf(sizes: number[], port: number): SpanList {
  return SpanList.copyOf(sizes.map((n, i) => new Uint8Array(n).fill(i)), LOOPBACK, port);
}

/** A receiver on port 9000 and a GSO sender on 9001 in a scratch namespace whose loopback has MTU 1500; closed afterwards. */
async function withPair(label: string, fn: (rx: DatagramSocket, tx: DatagramSocket, notices: string[]) => Promise<void>): Promise<void> {
  const ns = scratchNetns(label);
  assert.equal(run('ip', ['-n', ns, 'link', 'set', 'lo', 'mtu', '1500', 'up']).code, 0);
  const rx = udpSocket(ns, 9000, false);
  const notices: string[] = [];
  const tx = udpSocket(ns, 9001, true, (errno) => notices.push(errno));
  try {
    await fn(rx, tx, notices);
  } finally {
    rx.close();
    tx.close();
  }
}

/** Reads until `want` datagrams arrived (or 3 s); returns [size, first byte] of each and how many reads it took. */
function receive(socket: DatagramSocket, want: number): Promise<{ got: Array<[number, number]>; reads: number }> {
  const batch = new RxBatch(4, 65536, 0, 4 * 64);
  const got: Array<[number, number]> = [];
  let reads = 0;
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      socket.stopReading();
      resolve({ got, reads });
    };
    const timer = setTimeout(done, 3000);
    socket.startReading(batch, (b) => {
      reads++;
      for (let i = 0; i < b.count; i++) got.push([b.sizes[i], b.buf[b.offsets[i]]]);
      if (got.length >= want) done();
    }, done);
  });
}

test('a run of equal datagrams leaves in one GSO send and arrives whole through UDP GRO, split back into the same datagrams', { skip: ROOT_SKIP }, async () => {
  await withPair('uso', async (rx, tx) => {
    assert.equal(rx.enableGro(), true);
    const sizes = [...Array(20).fill(1400), 600, 1400, 1400, 90];
    const arriving = receive(rx, sizes.length);
    const refused: string[] = [];
    assert.equal(tx.send(spansOf(sizes, 9000), 0, sizes.length, (_i, e) => refused.push(e)), sizes.length);
    assert.deepEqual(refused, []);
    const { got, reads } = await arriving;
    assert.deepEqual(got, sizes.map((n, i) => [n, i]), 'every datagram, its size and its bytes, in order');
    assert.equal(tx.gsoEnabled, true);
    assert.ok(reads < sizes.length, `GRO joined datagrams: ${reads} reads for ${sizes.length} datagrams`);
  });
});

test('a socket the kernel will not segment for (SO_NO_CHECK: EINVAL) falls back to sendmmsg once, says the errno once, and everything arrives', { skip: ROOT_SKIP }, async () => {
  await withPair('gsooff', async (rx, tx, notices) => {
    native.setsockoptInt(tx.fd, C.SOL_SOCKET, SO_NO_CHECK, 1);
    const sizes = [1000, 1000, 1000, 300];
    const arriving = receive(rx, 2 * sizes.length);
    const refuse = (_i: number, e: string): never => assert.fail(`refused: ${e}`);
    assert.equal(tx.send(spansOf(sizes, 9000), 0, sizes.length, refuse), sizes.length);
    assert.deepEqual(notices, ['EINVAL']);
    assert.equal(tx.gsoEnabled, false);
    assert.equal(tx.send(spansOf(sizes, 9000), 0, sizes.length, refuse), sizes.length);
    assert.deepEqual(notices, ['EINVAL'], 'said once');
    assert.deepEqual((await arriving).got, [...sizes, ...sizes].map((n, i) => [n, i % sizes.length]));
  });
});

test('a run whose datagrams exceed the path MTU (EMSGSIZE) goes out one by one, fragmented, and GSO stays on', { skip: ROOT_SKIP }, async () => {
  await withPair('gsobig', async (rx, tx, notices) => {
    const sizes = [2000, 2000, 2000, 1000];
    const arriving = receive(rx, sizes.length);
    assert.equal(tx.send(spansOf(sizes, 9000), 0, sizes.length, (_i, e) => assert.fail(`refused: ${e}`)), sizes.length);
    assert.deepEqual((await arriving).got, sizes.map((n, i) => [n, i]));
    assert.deepEqual(notices, []);
    assert.equal(tx.gsoEnabled, true);
  });
});
