import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCidr, parseIPv4 } from '../packet/addr.js';
import { ipv6Key, parseCidr6, parseIPv6 } from '../packet/addr6.js';
import { Flow6Table, FlowTable } from './flow-table.js';

const A = (s: string): number => parseIPv4(s)!;
const subnet = parseCidr('10.244.1.3/24');

test('flows are found both ways and idle ones expire', () => {
  const t = new FlowTable(subnet, { idleMs: 1000 });
  const f = t.outbound(A('10.244.1.3'), A('198.51.100.2'), 7, 0)!;
  assert.equal(t.outbound(A('10.244.1.3'), A('198.51.100.2'), 7, 500), f, 'same flow again');
  assert.equal(t.inbound(A('198.51.100.2'), f.outId), f);
  assert.equal(t.inbound(A('198.51.100.3'), f.outId), undefined, 'keyed by the remote too');
  assert.equal(t.expire(1400), 0);
  assert.equal(t.expire(1600), 1);
  assert.equal(t.size, 0);
  assert.equal(t.inbound(A('198.51.100.2'), f.outId), undefined);
});

test('outgoing identifiers are unique per destination, and the table is bounded', () => {
  const t = new FlowTable(subnet, { maxFlows: 3, idleMs: 1000 });
  const a = t.outbound(A('10.244.1.3'), A('198.51.100.2'), 7, 0)!;
  const b = t.outbound(A('10.244.1.4'), A('198.51.100.2'), 7, 0)!;
  const c = t.outbound(A('10.244.1.4'), A('198.51.100.9'), 7, 0)!;
  assert.equal(a.outId, 7);
  assert.notEqual(b.outId, 7);
  assert.equal(c.outId, 7, 'another destination may reuse the identifier');
  assert.equal(t.outbound(A('10.244.1.5'), A('198.51.100.2'), 8, 10), undefined, 'full');
  assert.ok(t.outbound(A('10.244.1.5'), A('198.51.100.2'), 8, 2000), 'room again once idle flows expired');
  assert.equal(t.outbound(A('10.244.2.1'), A('198.51.100.2'), 8, 2000), undefined, 'sources outside the subnet are refused');
  assert.equal(t.ownsSource(A('10.244.2.1')), false);
});

test('Flow6Table: keys from packet bytes; sources outside the subnet refused; list() shows text', () => {
  const K = (s: string): string => ipv6Key(parseIPv6(s)!);
  const t = new Flow6Table(parseCidr6('fd00:1::3/64'));
  const f = t.outbound(K('fd00:1::3'), K('2001:db8:b::2'), 7, 0)!;
  assert.ok(f);
  assert.equal(t.outbound(K('fd00:1::3'), K('2001:db8:b::2'), 7, 10), f, 'same flow again');
  assert.equal(t.inbound(K('2001:db8:b::2'), f.outId), f);
  assert.equal(t.inbound(K('2001:db8:b::3'), f.outId), undefined, 'keyed by the remote too');
  const other = t.outbound(K('fd00:1::4'), K('2001:db8:b::2'), 7, 0)!;
  assert.notEqual(other.outId, f.outId, 'a second pinger with the same id gets its own outgoing id');
  assert.equal(t.outbound(K('fd00:2::3'), K('2001:db8:b::2'), 7, 0), undefined, 'a source outside the subnet');
  assert.equal(t.ownsSource(K('fd00:1::ffff:1')), true);
  assert.deepEqual(t.list().map((x) => [x.src, x.dst, x.id]).sort(), [['fd00:1::3', '2001:db8:b::2', 7], ['fd00:1::4', '2001:db8:b::2', 7]]);
  assert.equal(f.src, K('fd00:1::3'), 'list() copies: the table keeps its keys');
});
