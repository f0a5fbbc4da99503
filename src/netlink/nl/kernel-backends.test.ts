// The requests the kernel backends send (src/backend/vxlan, host-gw),
// each byte for byte what iproute2 sent for the command named, captured in
// a tdlab- namespace with `strace -e trace=sendmsg -e write=3,4 ...`
// (veth0 was ifindex 3, flannel.1 ifindex 4, flannel-v6.1 ifindex 6).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromHex, toHex } from '../../packet/bytes.js';
import { parseCidr, parseIPv4 } from '../../packet/addr.js';
import { parseIPv6 } from '../../packet/addr6.js';
import { parseMac } from '../../packet/mac.js';
import { decodeLink, linkRequests } from '../link.js';
import { decodeNeighbour, neighRequests } from '../neigh.js';
import { decodeRoute, routeRequests } from '../route.js';
import { MessageBuilder, parseMessages } from './codec.js';
import { AF_BRIDGE, NTF, NUD, RTM } from './constants.js';

const ip = (t: string): number => parseIPv4(t)!;
const mac = (t: string): Uint8Array => parseMac(t)!;
const VETH0 = 3;
const FLANNEL1 = 4;
const FLANNEL6 = 6;

const CAPTURED: Array<[string, () => MessageBuilder, string]> = [
  ['ip link add flannel.1 address 0e:00:00:00:00:01 type vxlan id 1 local 198.51.100.1 dev veth0 dstport 8472 nolearning',
    () => linkRequests.addVxlan({ name: 'flannel.1', mac: mac('0e:00:00:00:00:01'), vni: 1, local: ip('198.51.100.1'), link: VETH0, port: 8472 }),
    '7800000010000506fabb156b00000000000000000000000000000000000000000a0001000e000000000100000e000300666c616e6e656c2e310000003c0012000900010076786c616e0000002c0002000800030003000000080001000100000008000400c6336401050007000000000006000f0021180000'],
  ['ip link add flannel.2 type vxlan id 2 local 198.51.100.1 dev veth0 dstport 8472 nolearning gbp',
    () => linkRequests.addVxlan({ name: 'flannel.2', vni: 2, local: ip('198.51.100.1'), link: VETH0, port: 8472, gbp: true }),
    '7000000010000506fbbb156b00000000000000000000000000000000000000000e000300666c616e6e656c2e32000000400012000900010076786c616e00000030000200080003000300000004001700080001000200000008000400c6336401050007000000000006000f0021180000'],
  ['ip link add flannel-v6.1 type vxlan id 1 local 2001:db8:100::1 dev veth0 dstport 8472 nolearning',
    () => linkRequests.addVxlan({ name: 'flannel-v6.1', vni: 1, local: parseIPv6('2001:db8:100::1')!, link: VETH0, port: 8472 }),
    '7c0000001000050600bc156b000000000000000000000000000000000000000011000300666c616e6e656c2d76362e3100000000480012000900010076786c616e00000038000200080003000300000008000100010000001400110020010db8010000000000000000000001050007000000000006000f0021180000'],
  ['ip link set dev flannel.1 address 0e:00:00:00:00:03', () => linkRequests.setAddress(FLANNEL1, mac('0e:00:00:00:00:03')),
    '2c0000001000050000bc156b00000000000000000400000000000000000000000a0001000e00000000030000'],
  ['ip neigh replace 10.244.2.0 lladdr 0e:00:00:00:00:02 dev flannel.1 nud permanent',
    () => neighRequests.replace(FLANNEL1, ip('10.244.2.0'), mac('0e:00:00:00:00:02')),
    '300000001c000505fdbb156b00000000020000000400000080000000080001000af402000a0002000e00000000020000'],
  ['ip neigh del 10.244.2.0 dev flannel.1', () => neighRequests.del(FLANNEL1, ip('10.244.2.0')),
    '240000001d00050000bc156b00000000020000000400000080000000080001000af40200'],
  ['ip -6 neigh replace fd00:10:244:2:: lladdr 0e:00:00:00:00:02 dev flannel-v6.1 nud permanent',
    () => neighRequests.replace(FLANNEL6, parseIPv6('fd00:10:244:2::')!, mac('0e:00:00:00:00:02')),
    '3c0000001c00050502bc156b000000000a000000060000008000000014000100fd0000100244000200000000000000000a0002000e00000000020000'],
  ['bridge fdb replace 0e:00:00:00:00:02 dev flannel.1 dst 198.51.100.2 self permanent',
    () => neighRequests.fdbReplace(FLANNEL1, mac('0e:00:00:00:00:02'), ip('198.51.100.2')),
    '300000001c000505fdbb156b000000000700000004000000c00002000a0002000e0000000002000008000100c6336402'],
  ['bridge fdb del 0e:00:00:00:00:02 dev flannel.1 dst 198.51.100.2 self',
    () => neighRequests.fdbDel(FLANNEL1, mac('0e:00:00:00:00:02'), ip('198.51.100.2')),
    '300000001d000500ffbb156b000000000700000004000000c00002000a0002000e0000000002000008000100c6336402'],
  ['bridge fdb replace 0e:00:00:00:00:02 dev flannel-v6.1 dst 2001:db8:100::2 self permanent',
    () => neighRequests.fdbReplace(FLANNEL6, mac('0e:00:00:00:00:02'), parseIPv6('2001:db8:100::2')!),
    '3c0000001c00050502bc156b000000000700000006000000c00002000a0002000e000000000200001400010020010db8010000000000000000000002'],
  ['ip route replace 10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink',
    () => routeRequests.replace({ dst: parseCidr('10.244.2.0/24'), gateway: ip('10.244.2.0'), oif: FLANNEL1, onlink: true }),
    '3400000018000505fdbb156b0000000002180000fe03000104000000080001000af40200080005000af402000800040004000000'],
  ['ip route del 10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink',
    () => routeRequests.del({ dst: parseCidr('10.244.2.0/24'), gateway: ip('10.244.2.0'), oif: FLANNEL1, onlink: true }),
    '3400000019000500fdbb156b0000000002180000fe00ff0004000000080001000af40200080005000af402000800040004000000'],
  ['ip route replace 10.244.3.0/24 via 198.51.100.3 dev veth0 proto 75',
    () => routeRequests.replace({ dst: parseCidr('10.244.3.0/24'), gateway: ip('198.51.100.3'), oif: VETH0, protocol: 75 }),
    '340000001800050502bc156b0000000002180000fe4b000100000000080001000af4030008000500c63364030800040003000000'],
];

for (const [command, build, hex] of CAPTURED) {
  test(`encodes the same bytes as \`${command}\``, () => {
    const seq = new DataView(fromHex(hex).buffer).getUint32(8, true);
    assert.equal(toHex(build().finish(seq)), hex);
  });
}

test('decodes a vxlan link: MAC, VNI, local, underlay, port, learning and gbp', () => {
  const [m] = parseMessages(fromHex(CAPTURED[0][2]));
  const link = decodeLink(m);
  assert.equal(link.name, 'flannel.1');
  assert.equal(toHex(link.mac!), '0e0000000001');
  assert.deepEqual(link.vxlan, { vni: 1, local: ip('198.51.100.1'), link: VETH0, port: 8472, learning: false, gbp: false });
  const gbp = decodeLink(parseMessages(fromHex(CAPTURED[1][2]))[0]);
  assert.equal(gbp.vxlan?.gbp, true);
  assert.equal(gbp.mac, undefined);
  const v6 = decodeLink(parseMessages(fromHex(CAPTURED[2][2]))[0]);
  assert.equal(toHex(v6.vxlan!.local as Uint8Array), '20010db8010000000000000000000001');
});

test('decodes neighbour and FDB entries', () => {
  const arp = decodeNeighbour(parseMessages(fromHex(CAPTURED[4][2]))[0]);
  assert.deepEqual([arp.index, arp.state, arp.dst, toHex(arp.lladdr!)], [FLANNEL1, NUD.PERMANENT, ip('10.244.2.0'), '0e0000000002']);
  const fdb = decodeNeighbour(parseMessages(fromHex(CAPTURED[7][2]))[0]);
  assert.deepEqual([fdb.family, fdb.flags & NTF.SELF, fdb.dst, toHex(fdb.lladdr!)], [AF_BRIDGE, NTF.SELF, ip('198.51.100.2'), '0e0000000002']);
});

test('decodes an onlink route and the protocol tag', () => {
  const [m] = parseMessages(fromHex(CAPTURED[10][2]));
  assert.equal(m.type, RTM.NEWROUTE);
  const r = decodeRoute(m);
  assert.deepEqual([r.onlink, r.gateway, r.oif], [true, ip('10.244.2.0'), FLANNEL1]);
  assert.equal(decodeRoute(parseMessages(fromHex(CAPTURED[12][2]))[0]).protocol, 75);
});
