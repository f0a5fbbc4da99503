// The rtnetlink API against a real kernel in a scratch namespace, each
// result checked with iproute2's own view (ip -j).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NetlinkSocket } from '../../src/netlink/socket.js';
import { linkAddBridge, linkAddVeth, linkByName, linkDelete, linkGet, linkList, linkSetMtu, linkSetNetns, linkSetUp } from '../../src/netlink/link.js';
import { addrAdd, addrDelete, addrList } from '../../src/netlink/addr.js';
import { routeAdd, routeDelete, routeList, routeReplace } from '../../src/netlink/route.js';
import { NetlinkError } from '../../src/netlink/socket.js';
import { MessageBuilder } from '../../src/netlink/nl/codec.js';
import { RTM } from '../../src/netlink/nl/constants.js';
import { netnsOpen } from '../../src/netns/netns.js';
import { native } from '../../src/native/addon.js';
import { parseCidr, parseIPv4 } from '../../src/packet/addr.js';
import { ipJson, ROOT_SKIP, scratchNetns } from './helpers.js';

interface IpRoute { dst: string; gateway?: string; dev: string; metric?: number }

test('links, addresses and routes: add, replace, move, delete, as iproute2 sees them', { skip: ROOT_SKIP }, () => {
  const ns = scratchNetns('nl');
  const other = scratchNetns('nl2');
  const nl = NetlinkSocket.open({ netns: ns });
  try {
    linkAddBridge(nl, 'br-test');
    const br = linkByName(nl, 'br-test');
    assert.equal(br.kind, 'bridge');
    linkSetMtu(nl, br.index, 1400);
    linkSetUp(nl, br.index, true);
    addrAdd(nl, br.index, parseCidr('192.0.2.1/24'));
    addrAdd(nl, br.index, parseCidr('192.0.2.9/24'));
    addrDelete(nl, br.index, parseCidr('192.0.2.9/24'));
    assert.deepEqual(addrList(nl, br.index).map((a) => a.cidr), ['192.0.2.1/24']);
    const [ipView] = ipJson(ns, 'addr', 'show', 'dev', 'br-test') as Array<{ mtu: number; addr_info: Array<{ family: string; local: string }> }>;
    assert.equal(ipView.mtu, 1400);
    assert.deepEqual(ipView.addr_info.filter((a) => a.family === 'inet').map((a) => a.local), ['192.0.2.1']);

    routeAdd(nl, { dst: parseCidr('198.18.0.0/16'), gateway: parseIPv4('192.0.2.254'), oif: br.index, metric: 7 });
    routeReplace(nl, { dst: parseCidr('198.18.0.0/16'), gateway: parseIPv4('192.0.2.253'), oif: br.index, metric: 7 });
    routeAdd(nl, { dst: parseCidr('198.19.0.0/16'), oif: br.index });
    const ours = routeList(nl).filter((r) => r.oif === br.index && r.dst.length === 16);
    const theirs = (ipJson(ns, 'route', 'show') as IpRoute[]).filter((r) => r.dev === 'br-test' && r.dst.endsWith('/16'));
    assert.deepEqual(ours.map((r) => `${r.dst.network}/${r.gateway ?? '-'}`).sort(), [`${parseIPv4('198.18.0.0')}/${parseIPv4('192.0.2.253')}`, `${parseIPv4('198.19.0.0')}/-`].sort());
    assert.deepEqual(theirs.map((r) => `${r.dst} ${r.gateway ?? '-'}`).sort(), ['198.18.0.0/16 192.0.2.253', '198.19.0.0/16 -']);
    assert.throws(() => routeAdd(nl, { dst: parseCidr('198.19.0.0/16'), oif: br.index }), (err: NetlinkError) => err.errnoName === 'EEXIST');
    routeDelete(nl, { dst: parseCidr('198.18.0.0/16'), gateway: parseIPv4('192.0.2.253'), oif: br.index, metric: 7 });
    routeDelete(nl, { dst: parseCidr('198.19.0.0/16'), oif: br.index });
    assert.equal((ipJson(ns, 'route', 'show') as IpRoute[]).filter((r) => r.dst.endsWith('/16')).length, 0);

    // A veth pair inside the namespace; one end moved to another namespace under a new name.
    linkAddVeth(nl, 'va', 'vb');
    const vb = linkByName(nl, 'vb');
    const fd = netnsOpen(other);
    try {
      linkSetNetns(nl, vb.index, fd, 'moved0');
    } finally {
      native.close(fd);
    }
    assert.equal(linkGet(nl, 'vb'), undefined);
    assert.deepEqual((ipJson(other, 'link', 'show', 'moved0') as Array<{ ifname: string }>).map((l) => l.ifname), ['moved0']);
    const stats = linkByName(nl, 'va').stats!;
    assert.equal(typeof stats.rxPackets, 'number');
    linkDelete(nl, linkByName(nl, 'va').index);
    linkDelete(nl, br.index);
    assert.deepEqual(linkList(nl).map((l) => l.name), ['lo']);
    // The kernel's extended-ack text (not just ENETUNREACH) reaches the error message.
    assert.throws(() => routeAdd(nl, { dst: parseCidr('198.20.0.0/16'), gateway: parseIPv4('203.0.113.1') }), /Nexthop has invalid gateway/);
  } finally {
    nl.close();
  }
});

test('a request the kernel never answers is reported as a timeout, not as a closed socket', { skip: ROOT_SKIP }, () => {
  const nl = NetlinkSocket.open({ netns: scratchNetns('nlto'), timeoutSeconds: 1 });
  try {
    // Without NLM_F_REQUEST the kernel takes the message and says nothing.
    const silent = new MessageBuilder(RTM.GETLINK, 0);
    const started = Date.now();
    assert.throws(() => nl.ack('a silent request', silent), /a silent request: no answer from the kernel within 1s/);
    assert.ok(Date.now() - started < 3000);
  } finally {
    nl.close();
  }
});
