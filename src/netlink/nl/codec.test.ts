// Round-trips against bytes iproute2 sent, captured in a tdlab- namespace
// with `strace -e trace=sendmsg -e write=3,4 ip ...` (tcap had ifindex 2;
// every capture used sequence number 0x6b06563f, except the error reply).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromHex, toHex } from '../../packet/bytes.js';
import { parseCidr, parseIPv4 } from '../../packet/addr.js';
import { linkRequests } from '../link.js';
import { addrRequests } from '../addr.js';
import { routeRequests } from '../route.js';
import { decodeError, MessageBuilder, parseAttrs, parseMessages, attrString, attrU32 } from './codec.js';
import { IFA, IFLA, IFLA_INFO, NLMSG, RTA, RTM } from './constants.js';

const SEQ = 0x6b06563f;
const IFINDEX = 2;

const CAPTURED: Array<[string, () => MessageBuilder, string]> = [
  ['ip link set dev tcap up', () => linkRequests.setUp(IFINDEX, true),
    '20000000100005003f56066b0000000000000000020000000100000001000000'],
  ['ip link set dev tcap mtu 1400', () => linkRequests.setMtu(IFINDEX, 1400),
    '28000000100005003f56066b00000000000000000200000000000000000000000800040078050000'],
  ['ip addr add 10.244.9.1/24 dev tcap', () => addrRequests.add(IFINDEX, parseCidr('10.244.9.1/24')),
    '28000000140005063f56066b000000000218000002000000080002000af40901080001000af40901'],
  ['ip addr del 10.244.9.1/24 dev tcap', () => addrRequests.del(IFINDEX, parseCidr('10.244.9.1/24')),
    '28000000150005003f56066b000000000218000002000000080002000af40901080001000af40901'],
  ['ip route add 10.245.0.0/16 dev tcap', () => routeRequests.add({ dst: parseCidr('10.245.0.0/16'), oif: IFINDEX }),
    '2c000000180005063f56066b0000000002100000fe03fd0100000000080001000af500000800040002000000'],
  ['ip route add 10.246.0.0/16 via 10.244.9.1 dev tcap metric 7',
    () => routeRequests.add({ dst: parseCidr('10.246.0.0/16'), gateway: parseIPv4('10.244.9.1'), oif: IFINDEX, metric: 7 }),
    '3c000000180005063f56066b0000000002100000fe03000100000000080001000af60000080005000af4090108000600070000000800040002000000'],
  ['ip route replace 10.245.0.0/16 dev tcap', () => routeRequests.replace({ dst: parseCidr('10.245.0.0/16'), oif: IFINDEX }),
    '2c000000180005053f56066b0000000002100000fe03fd0100000000080001000af500000800040002000000'],
  ['ip route del 10.245.0.0/16 dev tcap', () => routeRequests.del({ dst: parseCidr('10.245.0.0/16'), oif: IFINDEX }),
    '2c000000190005003f56066b0000000002100000fe00ff0000000000080001000af500000800040002000000'],
  ['ip link add br0 type bridge', () => linkRequests.addBridge('br0'),
    '38000000100005063f56066b00000000000000000000000000000000000000000800030062723000100012000a0001006272696467650000'],
];

for (const [command, build, hex] of CAPTURED) {
  test(`encodes the same bytes as \`${command}\``, () => {
    assert.equal(toHex(build().finish(SEQ)), hex);
  });
  test(`decodes what \`${command}\` sent`, () => {
    const [m] = parseMessages(fromHex(hex));
    assert.deepEqual([m.type, m.flags, m.seq], [DECODED[command].type, DECODED[command].flags, SEQ]);
    // The fixed header after nlmsghdr: ifinfomsg/ifaddrmsg 16/8 bytes, rtmsg 12.
    const fixed = m.type === RTM.NEWLINK ? 16 : m.type === RTM.NEWADDR || m.type === RTM.DELADDR ? 8 : 12;
    const attrs = parseAttrs(m.data, fixed);
    const got: Record<string, string | number> = {};
    for (const [k, v] of attrs) got[k] = decodeAttr(m.type, k, v);
    assert.deepEqual(got, DECODED[command].attrs);
  });
}

/** An attribute as a person reads it: names as text, counts and indexes as numbers, addresses as hex. */
function decodeAttr(type: number, k: number, v: Uint8Array): string | number {
  if (type === RTM.NEWLINK) {
    if (k === IFLA.LINKINFO) return `kind ${attrString(parseAttrs(v).get(IFLA_INFO.KIND))}`;
    return k === IFLA.IFNAME ? attrString(v)! : k === IFLA.MTU ? attrU32(v)! : toHex(v);
  }
  const isRoute = type === RTM.NEWROUTE || type === RTM.DELROUTE;
  return isRoute && (k === RTA.OIF || k === RTA.PRIORITY || k === RTA.TABLE) ? attrU32(v)! : toHex(v);
}

/** What each capture means, written out by hand from `ip`'s command line. */
const ADDR = (s: string): string => toHex(Uint8Array.from(s.split('.').map(Number)));
const DECODED: Record<string, { type: number; flags: number; attrs: Record<string, string | number> }> = {
  'ip link set dev tcap up': { type: RTM.NEWLINK, flags: 0x0005, attrs: {} },
  'ip link set dev tcap mtu 1400': { type: RTM.NEWLINK, flags: 0x0005, attrs: { [IFLA.MTU]: 1400 } },
  'ip addr add 10.244.9.1/24 dev tcap': { type: RTM.NEWADDR, flags: 0x0605, attrs: { [IFA.LOCAL]: ADDR('10.244.9.1'), [IFA.ADDRESS]: ADDR('10.244.9.1') } },
  'ip addr del 10.244.9.1/24 dev tcap': { type: RTM.DELADDR, flags: 0x0005, attrs: { [IFA.LOCAL]: ADDR('10.244.9.1'), [IFA.ADDRESS]: ADDR('10.244.9.1') } },
  'ip route add 10.245.0.0/16 dev tcap': { type: RTM.NEWROUTE, flags: 0x0605, attrs: { [RTA.DST]: ADDR('10.245.0.0'), [RTA.OIF]: 2 } },
  'ip route add 10.246.0.0/16 via 10.244.9.1 dev tcap metric 7': { type: RTM.NEWROUTE, flags: 0x0605, attrs: { [RTA.DST]: ADDR('10.246.0.0'), [RTA.GATEWAY]: ADDR('10.244.9.1'), [RTA.PRIORITY]: 7, [RTA.OIF]: 2 } },
  'ip route replace 10.245.0.0/16 dev tcap': { type: RTM.NEWROUTE, flags: 0x0505, attrs: { [RTA.DST]: ADDR('10.245.0.0'), [RTA.OIF]: 2 } },
  'ip route del 10.245.0.0/16 dev tcap': { type: RTM.DELROUTE, flags: 0x0005, attrs: { [RTA.DST]: ADDR('10.245.0.0'), [RTA.OIF]: 2 } },
  'ip link add br0 type bridge': { type: RTM.NEWLINK, flags: 0x0605, attrs: { [IFLA.IFNAME]: 'br0', [IFLA.LINKINFO]: 'kind bridge' } },
};

test('nested attributes: veth peer info parses back to its names', () => {
  const [m] = parseMessages(linkRequests.addVeth('h1-eth0', 'sw-h1', 7).finish(1));
  assert.equal(m.type, RTM.NEWLINK);
  const attrs = parseAttrs(m.data, 16);
  assert.equal(attrString(attrs.get(IFLA.IFNAME)), 'h1-eth0');
  const info = parseAttrs(attrs.get(IFLA.LINKINFO)!);
  assert.equal(attrString(info.get(IFLA_INFO.KIND)), 'veth');
  const peer = parseAttrs(parseAttrs(info.get(IFLA_INFO.DATA)!).get(1)!, 16);
  assert.equal(attrString(peer.get(IFLA.IFNAME)), 'sw-h1');
  assert.equal(new DataView(peer.get(IFLA.NET_NS_FD)!.buffer, peer.get(IFLA.NET_NS_FD)!.byteOffset).getUint32(0, true), 7);
});

test('decodes a captured NLMSG_ERROR with extended-ack text', () => {
  // Kernel answer to `ip route add 10.247.0.0/16 via 192.0.2.1` (not capped).
  const reply = fromHex(
    '60000000020000024856066bf40a00009bffffff2c000000180005064856066b0000000002100000fe03000100000000' +
    '080001000af7000008000500c0000201200001004e657874686f702068617320696e76616c6964206761746577617900',
  );
  const [m] = parseMessages(reply);
  assert.equal(m.type, NLMSG.ERROR);
  assert.deepEqual(decodeError(m), { errno: 101, seq: 0x6b065648, message: 'Nexthop has invalid gateway' });
});

test('parsers stop at malformed lengths instead of reading past the buffer', () => {
  assert.deepEqual(parseMessages(fromHex('ff000000100005000100000000000000')), []);
  assert.deepEqual(parseMessages(fromHex('0800000010000500')), []);
  assert.equal(parseAttrs(fromHex('0200030008000300')).size, 0);
  assert.equal(parseAttrs(fromHex('0800030074617000ff00')).size, 1);
});

test('an error message whose quoted request claims a length past 2 GiB is decoded, not thrown (found by npm run fuzz)', () => {
  const reply = fromHex('60000000020000024856066bf40a00009bffffff2c000000180005064856066b0000000002100000fe03000100000000080001000af7000008000500c0000201200001004e657874686f702068617320696e76616c6964206761746577617900');
  reply.set([0xfe, 0xff, 0xff, 0xff], 20); // the quoted request's nlmsg_len
  const [m] = parseMessages(reply);
  assert.doesNotThrow(() => decodeError(m));
  assert.equal(decodeError(m).errno, 101);
});
