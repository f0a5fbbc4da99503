// What the overlay does with a WireGuard message once it opens: the packet
// is trimmed to its IP length (the sender padded it to 16 bytes), more than
// 15 bytes of padding is malformed, and a packet whose source is outside
// the sending peer's subnet is refused (cryptokey routing). In memory: an
// Overlay and a WireGuard peer of its own (harness/wireguard-overlay-pair.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseIPv4 } from '../../src/packet/addr.js';
import { ICMP_TYPE, writeEchoPacket } from '../../src/packet/icmp.js';
import { wireguardOverlayPair } from '../../harness/wireguard-overlay-pair.js';
import { parseIPv6 } from '../../src/packet/addr6.js';
import { ICMP6_TYPE, writeEcho6Packet } from '../../src/packet/icmp6.js';

const A = (s: string): number => parseIPv4(s)!;

function echo(src: string, extra = 0): Uint8Array {
  const p = new Uint8Array(84 + extra);
  writeEchoPacket(p, 0, { type: ICMP_TYPE.ECHO_REQUEST, src: A(src), dst: A('10.244.1.5'), id: 7, seq: 1, payload: new Uint8Array(56) });
  return p;
}

function echo6(src: string, extra = 0): Uint8Array {
  const p = new Uint8Array(104 + extra);
  writeEcho6Packet(p, 0, { type: ICMP6_TYPE.ECHO_REQUEST, src: parseIPv6(src)!, dst: parseIPv6('fd00:10:244:1::5')!, id: 7, seq: 1, payload: new Uint8Array(56) });
  return p;
}

test('a padded packet is written into the TUN at its own length; more than 15 bytes beyond it is malformed', () => {
  const { overlay, tun, seal, feed } = wireguardOverlayPair();
  feed(seal(echo('10.244.2.5'))); // 84 bytes, padded to 96
  assert.equal(tun.written.length, 1);
  assert.equal(tun.written[0].length, 84);
  tun.written.length = 0;
  feed(seal(echo('10.244.2.5', 32))); // 32 bytes after the IP packet's end: 116 padded to 128
  assert.equal(tun.written.length, 0);
  assert.equal(overlay.counters.drops.get('malformed'), 1);
});

test('a decrypted packet from outside the sending peer\'s subnet is refused (cryptokey routing)', () => {
  const { overlay, tun, seal, feed } = wireguardOverlayPair();
  feed(seal(echo('10.244.3.5')));
  assert.equal(tun.written.length, 0);
  assert.equal(overlay.counters.drops.get('outside-allowed-ips'), 1);
});

test('IPv6 inside WireGuard: trimmed to its payload length, more than 15 bytes of padding malformed, a source outside the peer\'s IPv6 subnet refused', () => {
  const { overlay, tun, seal, feed } = wireguardOverlayPair();
  feed(seal(echo6('fd00:10:244:2::5'))); // 104 bytes, padded to 112
  assert.equal(tun.written.length, 1);
  assert.equal(tun.written[0].length, 104);
  tun.written.length = 0;
  feed(seal(echo6('fd00:10:244:2::5', 32)));
  assert.equal(tun.written.length, 0);
  assert.equal(overlay.counters.drops.get('malformed'), 1);
  feed(seal(echo6('fd00:10:244:3::5')));
  assert.equal(tun.written.length, 0);
  assert.equal(overlay.counters.drops.get('outside-allowed-ips'), 1);
});
