// A point-to-point tunnel: IP packets routed into a TUN travel to the
// other end in UDP datagrams (one packet each, flannel's format), and
// datagrams from the other end come out of the TUN.
//
//   node dist/examples/udp-tunnel.js LOCAL_IP PEER_IP TUN_ADDRESS/LEN [PORT]
//   e.g. on host A: udp-tunnel.js 198.51.100.1 198.51.100.2 10.78.0.1/30
//        on host B: udp-tunnel.js 198.51.100.2 198.51.100.1 10.78.0.2/30
//
// Needs root or CAP_NET_ADMIN. Ctrl-C removes the device.
import { LinuxTun, openUdpSocket, parseIPv4, PollLoop, RxBatch, SpanList } from 'tun-driver';

const [localText, peerText, tunAddress, portText = '8472'] = process.argv.slice(2);
const local = parseIPv4(localText ?? '');
const peer = parseIPv4(peerText ?? '');
if (local === undefined || peer === undefined || !tunAddress) {
  console.error('usage: udp-tunnel LOCAL_IP PEER_IP TUN_ADDRESS/LEN [PORT]');
  process.exit(2);
}
const port = Number(portText);
const tun = LinuxTun.create({ name: 'tdtun0', addresses: [tunAddress], mtu: 1472, offload: 'auto' });
const socket = openUdpSocket({ address: local, port, offload: true });

const fromTun = new RxBatch(128, 2048);
const fromNet = new RxBatch(16, 65536, 0, 16 * 64);
const toNet = new SpanList(fromTun.capacity);
const toTun = new SpanList(fromNet.capacity);
let refused = 0;
// Both sides wait in one PollLoop: poll() slices while traffic flows (lower
// latency), libuv while idle. Leave it out to be woken by libuv always.
const loop = new PollLoop();

tun.startReading(fromTun, (b) => {
  toNet.reset(b.buf);
  for (let i = 0; i < b.count; i++) toNet.add(b.offsets[i], b.sizes[i], peer, port);
  socket.send(toNet, 0, toNet.count, () => refused++);
}, undefined, loop);
socket.startReading(fromNet, (b) => {
  toTun.reset(b.buf);
  for (let i = 0; i < b.count; i++) {
    if (b.addrs[2 * i] === peer && b.addrs[2 * i + 1] === port) toTun.add(b.offsets[i], b.sizes[i]); // only the peer
  }
  tun.writeBatch(toTun);
}, (err) => {
  console.error(`udp-tunnel: ${err.message}`);
  process.exit(1);
}, loop);

const stop = (): void => {
  tun.close();
  socket.close();
  console.log(`stopped (${refused} datagrams refused by the kernel)`);
  process.exit(0);
};
process.on('SIGINT', stop).on('SIGTERM', stop);
console.log(`tunnel up: ${tun.name} ${tunAddress} <-> ${peerText}:${port} (offloads ${tun.offload.summary})`);
