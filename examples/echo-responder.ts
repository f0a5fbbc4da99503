// A TUN that answers pings itself: every ICMP echo request the kernel
// routes into it comes back as an echo reply, written by this process.
//
//   node dist/examples/echo-responder.js [NAME] [ADDRESS/LEN]
//   ping 10.77.0.2            # any other address of the subnet answers
//
// Needs root or CAP_NET_ADMIN; run it inside a network namespace of your own
// (ip netns exec NS ...). Ctrl-C removes the device.
import { ICMP_TYPE, IcmpView, IPPROTO, IPv4View, LinuxTun, RxBatch, SpanList } from 'tun-driver';

const name = process.argv[2] ?? 'tdecho0';
const address = process.argv[3] ?? '10.77.0.1/24';
const tun = LinuxTun.create({ name, addresses: [address] });
const rx = new RxBatch(64, 2048);
const replies = new SpanList(64);
const ip = new IPv4View();
const icmp = new IcmpView();

tun.startReading(rx, (batch) => {
  replies.reset(batch.buf);
  for (let i = 0; i < batch.count; i++) {
    ip.attach(batch.buf, batch.offsets[i], batch.sizes[i]);
    if (ip.check() !== undefined || ip.protocol !== IPPROTO.ICMP) continue;
    icmp.attach(batch.buf, ip.payloadOffset, ip.payloadLength);
    if (icmp.check() !== undefined || icmp.type !== ICMP_TYPE.ECHO_REQUEST) continue;
    // Turn the request around in place: swap the addresses, make it a reply.
    const [src, dst] = [ip.src, ip.dst];
    ip.setSrc(dst);
    ip.setDst(src);
    icmp.setType(ICMP_TYPE.ECHO_REPLY);
    replies.add(batch.offsets[i], ip.totalLength);
  }
  if (replies.count > 0) tun.writeBatch(replies);
});

const stop = (): void => {
  tun.close();
  process.exit(0);
};
process.on('SIGINT', stop).on('SIGTERM', stop);
console.log(`${name} ${address}: answering pings to the rest of the subnet`);
