// What the overlay does with a WireGuard message once it opens: the packet
// is trimmed to its IP length (the sender padded it to 16 bytes), more than
// 15 bytes of padding is malformed, and a packet whose source is outside
// the sending peer's subnet is refused (cryptokey routing). In memory: an
// Overlay and a WireGuard peer of its own (test/support/wireguard-overlay-pair.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseIPv4 } from '../../src/packet/addr.js';
import { ICMP_TYPE, writeEchoPacket } from '../../src/packet/icmp.js';
import { wireguardOverlayPair } from '../support/wireguard-overlay-pair.js';

const A = (s: string): number => parseIPv4(s)!;

function echo(src: string, extra = 0): Uint8Array {
  const p = new Uint8Array(84 + extra);
  writeEchoPacket(p, 0, { type: ICMP_TYPE.ECHO_REQUEST, src: A(src), dst: A('10.244.1.5'), id: 7, seq: 1, payload: new Uint8Array(56) });
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
