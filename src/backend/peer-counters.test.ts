// --peer-counters' table and what nft prints of it (nft itself runs in
// test/integration/backends.test.ts, counting real pings).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePeerCounters, peerCountersScript, peerCountersTable } from './peer-counters.js';

test('peer counters: interval sets of subnets with counters, looked up by destination leaving and by source arriving; nothing but counting', () => {
  const script = peerCountersScript('flannel.1');
  assert.equal(peerCountersTable('flannel.1'), 'tun-driver-flannel.1-peers');
  assert.match(script, /^table inet tun-driver-flannel\.1-peers \{/);
  for (const [set, type] of [['tx4', 'ipv4_addr'], ['rx4', 'ipv4_addr'], ['tx6', 'ipv6_addr'], ['rx6', 'ipv6_addr']]) {
    assert.match(script, new RegExp(`set ${set} \\{ type ${type}; flags interval; counter; \\}`));
  }
  assert.match(script, /hook postrouting priority 0; policy accept;\n    ip daddr @tx4\n    ip6 daddr @tx6\n/);
  assert.match(script, /hook prerouting priority 0; policy accept;\n    ip saddr @rx4\n    ip6 saddr @rx6\n/);
  assert.doesNotMatch(script, /\b(drop|reject|accept\s*$)/m);
});

test('peer counters: each subnet\'s elements read back from nft -j, tx and rx apart; other output ignored', () => {
  const elem = (addr: string, len: number, packets: number, bytes: number) => ({ elem: { val: { prefix: { addr, len } }, counter: { packets, bytes } } });
  const json = JSON.stringify({ nftables: [
    { metainfo: { version: '1.0.6' } },
    { table: { family: 'inet', name: 'tun-driver-flannel.1-peers' } },
    { set: { name: 'tx4', elem: [elem('10.244.2.0', 24, 3, 252), elem('10.244.3.0', 24, 0, 0)] } },
    { set: { name: 'rx4', elem: [elem('10.244.2.0', 24, 2, 168)] } },
    { set: { name: 'tx6', elem: [elem('fd00:10:244:2::', 64, 2, 208)] } },
    { set: { name: 'rx6' } },
    { set: { name: 'other', elem: [elem('10.9.9.0', 24, 9, 9)] } },
    { chain: { name: 'post' } },
  ] });
  const m = parsePeerCounters(json);
  assert.deepEqual(Object.fromEntries(m), {
    '10.244.2.0/24': { txPackets: 3, txBytes: 252, rxPackets: 2, rxBytes: 168 },
    '10.244.3.0/24': { txPackets: 0, txBytes: 0, rxPackets: 0, rxBytes: 0 },
    'fd00:10:244:2::/64': { txPackets: 2, txBytes: 208, rxPackets: 0, rxBytes: 0 },
  });
  assert.throws(() => parsePeerCounters('not json'));
});
