import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blockingRules, droppingPolicies } from './firewall.js';

// Shaped like `nft -j list ruleset` after `iptables -A INPUT -p udp --dport 8285 -j DROP` and friends.
const chain = (name: string, hook: string, policy = 'accept') => ({ chain: { family: 'ip', table: 'filter', name, handle: 1, type: 'filter', hook, prio: 0, policy } });
const rule = (chainName: string, handle: number, expr: unknown[]) => ({ rule: { family: 'ip', table: 'filter', chain: chainName, handle, expr } });
const udpPort = (right: unknown) => ({ match: { op: '==', left: { payload: { protocol: 'udp', field: 'dport' } }, right } });
const proto = (right: unknown) => ({ match: { op: '==', left: { meta: { key: 'l4proto' } }, right } });

const ruleset = {
  nftables: [
    { metainfo: { version: '1.0.6' } },
    chain('INPUT', 'input'),
    chain('OUTPUT', 'output'),
    chain('FORWARD', 'forward', 'drop'),
    rule('INPUT', 2, [udpPort(8285), { counter: {} }, { drop: null }]),
    rule('INPUT', 3, [udpPort({ set: [53, 8472] }), { drop: null }]),
    rule('INPUT', 4, [udpPort({ range: [8000, 9000] }), { accept: null }]),
    rule('INPUT', 5, [proto('icmp'), { reject: { type: 'icmp' } }]),
    rule('OUTPUT', 6, [udpPort(8285), { drop: null }]),
    rule('FORWARD', 7, [udpPort({ range: [8280, 8290] }), { drop: null }]),
  ],
};

test('finds the rules that drop the overlay\'s port (values, sets, ranges) on input/forward only', () => {
  const hits = blockingRules(ruleset, { proto: 'udp', port: 8285 });
  assert.deepEqual(hits.map((h) => h.fix), ['nft delete rule ip filter INPUT handle 2', 'nft delete rule ip filter FORWARD handle 7']);
  assert.match(hits[0].evidence, /^nft ip filter INPUT handle 2: udp dport 8285 drop$/);
  assert.deepEqual(blockingRules(ruleset, { proto: 'udp', port: 53 }).map((h) => h.fix), ['nft delete rule ip filter INPUT handle 3']);
  assert.deepEqual(blockingRules(ruleset, { proto: 'udp', port: 7000 }), []);
});

test('finds ICMP rejects for the relay, and chains whose policy drops', () => {
  assert.deepEqual(blockingRules(ruleset, { proto: 'icmp' }).map((h) => h.fix), ['nft delete rule ip filter INPUT handle 5']);
  assert.deepEqual(droppingPolicies(ruleset), ['nft ip filter FORWARD: policy drop']);
  assert.deepEqual(blockingRules({}, { proto: 'icmp' }), []);
});
