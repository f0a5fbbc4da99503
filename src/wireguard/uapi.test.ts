// The userspace API codec and the cryptokey routing table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseIPv4 } from '../packet/addr.js';
import { parseAnyCidr, parseIPv6 } from '../packet/addr6.js';
import { formatUapiErrno, formatUapiGet, parseUapiSet, UapiError } from './uapi.js';
import { AllowedIps } from './allowed-ips.js';

const K1 = 'e84b5a6d2717c1003a13b431570353dbaca9146cf150c5f8575680feba52027a';
const K2 = '58402e695ba1772b1cc9309755f043251ea77fdcf10fbe63989ceb7e19321376';

test('a set as wg setconf sends it: device keys, then a section per peer', () => {
  const s = parseUapiSet([
    `private_key=${K1}`, 'listen_port=51820', 'fwmark=0', 'replace_peers=true',
    `public_key=${K2}`, `preshared_key=${K1}`, 'endpoint=[2001:db8::2]:51820', 'persistent_keepalive_interval=25', 'replace_allowed_ips=true', 'allowed_ip=10.0.0.0/8', 'allowed_ip=fd00::/64', 'protocol_version=1',
    `public_key=${K1}`, 'remove=true',
  ]);
  assert.equal(Buffer.from(s.privateKey!).toString('hex'), K1);
  assert.deepEqual([s.listenPort, s.fwmark, s.replacePeers, s.peers.length], [51820, 0, true, 2]);
  const p = s.peers[0];
  assert.deepEqual([p.endpoint?.port, p.persistentKeepalive, p.replaceAllowedIps, p.allowedIps.map((a) => a.family)], [51820, 25, true, [4, 6]]);
  assert.deepEqual(s.peers[1].remove, true);
});

test('a bad line anywhere refuses the whole set, with the errno wg reports', () => {
  const cases: Array<[string[], number, RegExp]> = [
    [['listen_port=70000'], 22, /listen_port: above 65535/],
    [[`public_key=${K2}`, 'allowed_ip=10.0.0.0/33'], 22, /allowed_ip 10\.0\.0\.0\/33/],
    [[`public_key=${K2}`, 'endpoint=nowhere:1'], 22, /endpoint nowhere:1/],
    [['private_key=abc'], 22, /private_key: not 64/],
    [['frobnicate=1'], 22, /"frobnicate" is not a device key/],
    [[`public_key=${K2}`, 'listen_port=1'], 22, /"listen_port" is not a peer key/],
    [['no equals sign'], 71, /has no "="/],
    [[`public_key=${K2}`, 'remove=false'], 22, /only "true"/],
  ];
  for (const [lines, errno, message] of cases) {
    assert.throws(() => parseUapiSet(lines), (e: UapiError) => e.errno === errno && message.test(e.message), lines.join(' '));
  }
  assert.equal(formatUapiErrno(22), 'errno=-22\n\n');
  assert.equal(formatUapiErrno(0), 'errno=0\n\n');
});

test('a get lists the device, then each peer as wg reads it, ending in errno=0 and a blank line', () => {
  const text = formatUapiGet({
    privateKey: Buffer.from(K1, 'hex'), listenPort: 51820, fwmark: 0,
    peers: [{ publicKey: Buffer.from(K2, 'hex'), endpoint: { addr: parseIPv4('198.51.100.2')!, port: 51820 }, lastHandshakeMs: 1_800_000_000_123, txBytes: 92, rxBytes: 148, persistentKeepalive: 0, allowedIps: [parseAnyCidr('10.244.2.0/24')] }],
  });
  assert.equal(text, [
    `private_key=${K1}`, 'listen_port=51820', `public_key=${K2}`, `preshared_key=${'0'.repeat(64)}`, 'protocol_version=1', 'endpoint=198.51.100.2:51820',
    'last_handshake_time_sec=1800000000', 'last_handshake_time_nsec=123000000', 'tx_bytes=92', 'rx_bytes=148', 'persistent_keepalive_interval=0', 'allowed_ip=10.244.2.0/24', 'errno=0', '', '',
  ].join('\n'));
});

test('cryptokey routing: the longest prefix wins, of either family; a prefix moves to the peer that inserts it last', () => {
  const t = new AllowedIps<string>();
  t.insert(parseAnyCidr('10.0.0.0/8'), 'a');
  t.insert(parseAnyCidr('10.1.0.0/16'), 'b');
  t.insert(parseAnyCidr('0.0.0.0/0'), 'c');
  t.insert(parseAnyCidr('fd00::/64'), 'a');
  t.insert(parseAnyCidr('fd00::1/128'), 'b');
  assert.deepEqual(['10.1.2.3', '10.2.3.4', '192.0.2.1'].map((a) => t.lookup4(parseIPv4(a)!)), ['b', 'a', 'c']);
  assert.equal(t.lookup6(parseIPv6('fd00::1')!, 0), 'b');
  assert.equal(t.lookup6(parseIPv6('fd00::2')!, 0), 'a');
  assert.equal(t.lookup6(parseIPv6('fd01::1')!, 0), undefined);
  t.insert(parseAnyCidr('10.1.0.0/16'), 'a');
  assert.equal(t.lookup4(parseIPv4('10.1.2.3')!), 'a');
  t.removeByPeer('a');
  assert.equal(t.lookup4(parseIPv4('10.1.2.3')!), 'c');
  assert.deepEqual(t.entriesFor('b').map((p) => p.family), [6]);
});
