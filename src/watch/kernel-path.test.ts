// The kernel backends' path probe: the counting table's text, its
// counters read back, and the hops judged from them. nft itself runs in
// test/integration/backends.test.ts, where these tables count real pings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KERNEL_COUNTERS, kernelPlan, kernelProbeScript, parseProbeCounters } from './kernel-path.js';
import { judgeHops } from './path-probe.js';

const src = { pod: 'host-1-pod1', host: 'host-1', device: 'flannel.1' };
const dst = { pod: 'host-2-pod1', host: 'host-2', device: 'flannel.1' };

test('kernel probe table: VXLAN matched inside UDP at the inner ICMP type and identifier, per family; host-gw without encapsulation', () => {
  const v4 = kernelProbeScript({ backend: 'vxlan', id: 1234, ipv6: false, port: 8472 });
  // UDP 8 + VXLAN 8 + Ethernet 14 + IPv4 20 = 50 bytes: the type at bit 400, the identifier 4 bytes on at bit 432.
  assert.match(v4, /udp dport 8472 @th,400,8 8 @th,432,16 1234 counter name "req-wire-out"/);
  assert.match(v4, /udp dport 8472 @th,400,8 0 @th,432,16 1234 counter name "reply-wire-in"/);
  assert.match(v4, /oifname "flannel\*" icmp type echo-request icmp id 1234 counter name "req-to-vtep"/);
  const v6 = kernelProbeScript({ backend: 'vxlan', id: 7, ipv6: true, port: 4789 });
  assert.match(v6, /udp dport 4789 @th,560,8 128 @th,592,16 7 counter name "req-wire-out"/);
  assert.match(v6, /iifname "flannel\*" icmpv6 type echo-reply icmpv6 id 7 counter name "reply-decap"/);
  const hg = kernelProbeScript({ backend: 'host-gw', id: 9, ipv6: false, port: 0 });
  assert.doesNotMatch(hg, /udp|flannel/);
  assert.match(hg, /oifname != "cni0" icmp type echo-request icmp id 9 counter name "req-wire-out"/);
  for (const c of KERNEL_COUNTERS) assert.match(v4, new RegExp(`counter ${c} \\{\\}`));
  assert.match(v4, /policy accept;/);
  assert.doesNotMatch(v4, /\b(drop|reject)\b/, 'the table only counts');
});

test('kernel probe: the first hop whose counter stayed at 0 is where the ping stopped', () => {
  const json = JSON.stringify({ nftables: [{ metainfo: {} }, { counter: { name: 'req-from-pod', packets: 1 } }, { counter: { name: 'req-to-vtep', packets: 1 } }, { counter: { name: 'req-wire-out', packets: 0 } }, { counter: { name: 'other', packets: 5 } }] });
  const near = { counted: parseProbeCounters(json) };
  assert.deepEqual(near.counted, { 'req-from-pod': 1, 'req-to-vtep': 1, 'req-wire-out': 0 });
  const hops = judgeHops(kernelPlan('vxlan', 8472, src, dst), near, { counted: {} }, false);
  assert.deepEqual(hops.map((h) => [h.step, h.status]).slice(0, 3), [['pod-to-vtep', 'passed'], ['vtep-to-wire', 'failed'], ['wire-to-host', 'not-reached']]);
  assert.equal(hops[1].host, 'host-1');
  assert.ok(hops.every((h) => h.atMs === undefined), 'counters carry no time');
});

test('kernel probe: every counter seen and the reply delivered pass every hop, host-gw with its seven', () => {
  const all = { counted: Object.fromEntries(KERNEL_COUNTERS.map((c) => [c, 1])) };
  for (const [backend, count] of [['vxlan', 9], ['host-gw', 7]] as const) {
    const hops = judgeHops(kernelPlan(backend, 8472, src, dst), all, all, true);
    assert.equal(hops.length, count);
    assert.ok(hops.every((h) => h.status === 'passed'), JSON.stringify(hops));
  }
  // Everything counted but no reply: the last hop is where it stopped.
  const lost = judgeHops(kernelPlan('host-gw', 0, src, dst), all, all, false);
  assert.deepEqual(lost.map((h) => h.status).slice(-2), ['passed', 'failed']);
});
