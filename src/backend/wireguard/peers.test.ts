// Which leases may be WireGuard peers (peers.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCidr } from '../../packet/addr.js';
import { newPrivateKey, publicBytesOf } from '../../wireguard/primitives.js';
import { wireguardPeers } from './peers.js';

test('leases: one naming our own key, or a key another lease names (as the same point, whatever its encoding), are refused by name', () => {
  const own = newPrivateKey().privateKey;
  const ownBytes = publicBytesOf(own);
  const other = publicBytesOf(newPrivateKey().privateKey);
  const otherHighBit = other.slice();
  otherHighBit[31] |= 0x80; // X25519 ignores the top bit: the same point
  const lease = (n: number, key: Uint8Array) => ({ subnet: parseCidr(`10.244.${n}.0/24`), publicIp: 0xc6336400 + n, port: 8285, publicKey: Buffer.from(key).toString('base64') });
  const { keep, refused } = wireguardPeers([lease(1, ownBytes), lease(2, other), lease(3, otherHighBit), { subnet: parseCidr('10.244.4.0/24'), publicIp: 0xc6336404, port: 8285 }], ownBytes);
  assert.deepEqual(keep.map((l) => l.publicIp & 0xff), [4], 'only the keyless lease is left');
  assert.equal(refused.length, 3);
  assert.match(refused[0], /10\.244\.1\.0\/24 .* names this node's own public key/);
  assert.match(refused[1], /which another lease names too/);
});
