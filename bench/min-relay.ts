// The smallest TUN <-> UDP passthrough on tun-driver's public API: no
// checks, no routing, no offloads. bench/rtt-floor.ts runs one per node to
// measure what a round trip costs through Node's event loop and the addon
// alone. Usage (inside a lab node): node dist/bench/min-relay.js ME PEER [poll]
// With `poll`, it waits in a blocking poll() loop on the main thread
// instead of libuv readiness callbacks: what a worker thread that waits on
// its own would cost.
import { DatagramSocket, LinuxTun, parseIPv4, RxBatch, SpanList } from '../src/index.js';
import { C, native } from '../src/native/addon.js';

const [me, peer] = process.argv.slice(2, 4).map(Number);
const blockingPoll = process.argv[4] === 'poll';
if (!(me >= 1 && me <= 254 && peer >= 1 && peer <= 254)) {
  console.error('usage: min-relay ME PEER (host numbers in the lab, e.g. 1 2)');
  process.exit(2);
}
const tun = LinuxTun.create({ name: 't0', addresses: [`10.244.${me}.0/16`], mtu: 1472 });
const fd = native.socket(C.AF_INET, C.SOCK_DGRAM | C.SOCK_NONBLOCK, C.IPPROTO_UDP);
native.bindInet(fd, parseIPv4(`198.51.100.${me}`)!, 8285);
const socket = new DatagramSocket(fd);
const peerAddress = parseIPv4(`198.51.100.${peer}`)!;
const tunRx = new RxBatch(64, 2048);
const netRx = new RxBatch(64, 65536);
const toNet = new SpanList(64);
const toTun = new SpanList(64);
const ignoreRefusal = (): void => {};
const tunToNet = (b: RxBatch): void => {
  toNet.reset(b.buf);
  for (let i = 0; i < b.count; i++) toNet.add(b.offsets[i], b.sizes[i], peerAddress, 8285);
  socket.send(toNet, 0, toNet.count, ignoreRefusal);
};
const netToTun = (b: RxBatch): void => {
  toTun.reset(b.buf);
  for (let i = 0; i < b.count; i++) toTun.add(b.offsets[i], b.sizes[i]);
  tun.writeBatch(toTun);
};
if (blockingPoll) {
  // SIGTERM ends the process (the default action): no handler can run while this loop blocks.
  const fds = Int32Array.of(tun.fd, fd);
  for (;;) {
    const ready = native.waitReadable(fds, 1000);
    if (ready & 1 && tun.readNow(tunRx) > 0) tunToNet(tunRx);
    if (ready & 2) {
      netRx.setSlotEntries(native.recvBatch(fd, netRx.buf, netRx.slotSize, 0, netRx.slots, netRx.sizes, netRx.addrs, 0, null));
      if (netRx.count > 0) netToTun(netRx);
    }
  }
}
tun.startReading(tunRx, tunToNet);
socket.startReading(netRx, netToTun, () => process.exit(1));
process.on('SIGTERM', () => {
  tun.close();
  socket.close();
  process.exit(0);
});
