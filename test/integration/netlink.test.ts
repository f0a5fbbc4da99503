// The rtnetlink API against a real kernel in a scratch namespace, each
// result checked with iproute2's own view (ip -j).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NetlinkSocket } from '../../src/netlink/socket.js';
import { linkAddBridge, linkAddVeth, linkByName, linkDelete, linkGet, linkList, linkSetMtu, linkSetNetns, linkSetUp } from '../../src/netlink/link.js';
import { addr6List, addrAdd, addrDelete, addrList } from '../../src/netlink/addr.js';
import { route6List, routeAdd, routeDelete, routeList, routeReplace } from '../../src/netlink/route.js';
import { ruleAdd, ruleDelete } from '../../src/netlink/rule.js';
import { AF_INET6 } from '../../src/netlink/nl/constants.js';
import { formatIPv6, parseCidr6, parseIPv6 } from '../../src/packet/addr6.js';
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

test('IPv6 addresses, routes (main and another table) and an oif rule, as ip -6 sees them', { skip: ROOT_SKIP }, () => {
  const ns = scratchNetns('nl6');
  const nl = NetlinkSocket.open({ netns: ns });
  try {
    linkAddBridge(nl, 'br6');
    const br = linkByName(nl, 'br6');
    linkSetUp(nl, br.index, true);
    addrAdd(nl, br.index, parseCidr6('2001:db8:1::1/64'));
    addrAdd(nl, br.index, parseCidr6('2001:db8:1::9/64'));
    addrAdd(nl, br.index, parseCidr('192.0.2.1/24'));
    addrDelete(nl, br.index, parseCidr6('2001:db8:1::9/64'));
    const ours = addr6List(nl, br.index).filter((a) => a.scope === 0).map((a) => a.cidr);
    assert.deepEqual(ours, ['2001:db8:1::1/64']);
    assert.deepEqual(addrList(nl, br.index).map((a) => a.cidr), ['192.0.2.1/24'], 'the IPv4 list is not mixed with IPv6');
    const [ipView] = ipJson(ns, '-6', 'addr', 'show', 'dev', 'br6') as Array<{ addr_info: Array<{ local: string; prefixlen: number; scope: string; nodad?: boolean; tentative?: boolean }> }>;
    const global = ipView.addr_info.filter((a) => a.scope === 'global');
    assert.deepEqual(global.map((a) => `${a.local}/${a.prefixlen}`), ['2001:db8:1::1/64']);
    assert.equal(global[0].tentative, undefined, 'added without duplicate address detection: usable at once');

    routeAdd(nl, { dst: parseCidr6('2001:db8:99::/48'), gateway: parseIPv6('2001:db8:1::fe'), oif: br.index, metric: 7 });
    routeReplace(nl, { dst: parseCidr6('2001:db8:99::/48'), gateway: parseIPv6('2001:db8:1::fd'), oif: br.index, metric: 7 });
    routeAdd(nl, { dst: parseCidr6('::/0'), oif: br.index, table: 0x74640001 });
    const mine = route6List(nl).filter((r) => r.dst.length === 48);
    assert.deepEqual(mine.map((r) => `${formatIPv6(r.dst.network)}/${r.dst.length} via ${formatIPv6(r.gateway!)} metric ${r.metric}`), ['2001:db8:99::/48 via 2001:db8:1::fd metric 7']);
    const theirs = ipJson(ns, '-6', 'route', 'show', 'table', String(0x74640001)) as Array<{ dst: string; dev: string }>;
    assert.deepEqual(theirs.map((r) => `${r.dst} ${r.dev}`), ['default br6']);
    assert.deepEqual(route6List(nl, 0x74640001).map((r) => r.dst.length), [0]);

    const rule = { family: AF_INET6, oifName: 'br6', table: 0x74640001, priority: 1000 };
    ruleAdd(nl, rule);
    const rules = ipJson(ns, '-6', 'rule', 'show') as Array<{ priority: number; oif?: string; table: string }>;
    assert.deepEqual(rules.filter((r) => r.priority === 1000).map((r) => `${r.oif} ${r.table}`), [`br6 ${0x74640001}`]);
    assert.throws(() => ruleAdd(nl, rule), (err: NetlinkError) => err.errnoName === 'EEXIST');
    ruleDelete(nl, rule);
    assert.equal((ipJson(ns, '-6', 'rule', 'show') as Array<{ priority: number }>).filter((r) => r.priority === 1000).length, 0);
    routeDelete(nl, { dst: parseCidr6('2001:db8:99::/48'), gateway: parseIPv6('2001:db8:1::fd'), oif: br.index, metric: 7 });
    assert.equal(route6List(nl).filter((r) => r.dst.length === 48).length, 0);
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
