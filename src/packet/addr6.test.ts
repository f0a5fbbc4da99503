import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatIPv6, formatIPv6Key, ipv6Key, ipv6KeyInPrefix, parseAnyCidr, parseCidr6, parseIPv6, prefix6Contains, writeIPv6Key } from './addr6.js';

test('parseIPv6 and formatIPv6 round-trip to RFC 5952 text', () => {
  const cases: Array<[string, string]> = [
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:db8::', '2001:db8::'],
    ['::', '::'],
    ['::1', '::1'],
    ['fd00:10:244:1::3', 'fd00:10:244:1::3'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // the first of two equal runs
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // one zero group is not shortened
    ['::ffff:192.0.2.1', '::ffff:c000:201'],
    ['fe80:0000:0000:0000:0202:b3ff:fe1e:8329', 'fe80::202:b3ff:fe1e:8329'],
  ];
  for (const [text, canonical] of cases) {
    const bytes = parseIPv6(text);
    assert.ok(bytes, text);
    assert.equal(formatIPv6(bytes), canonical, text);
  }
});

test('parseIPv6 refuses what is not an IPv6 address', () => {
  for (const bad of ['', ':', '1::2::3', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', 'g::1', '12345::', '10.0.0.1', '::1.2.3', '::256.1.1.1', 'fe80::1%eth0', ':::']) {
    assert.equal(parseIPv6(bad), undefined, bad);
  }
});

test('prefixes: network bits, containment and the family of a flag value', () => {
  const p = parseCidr6('fd00:10:244:1::3/60');
  assert.equal(formatIPv6(p.network), 'fd00:10:244::');
  assert.ok(prefix6Contains(p, parseIPv6('fd00:10:244:f::9')!));
  assert.ok(!prefix6Contains(p, parseIPv6('fd00:10:244:10::9')!));
  assert.ok(prefix6Contains(parseCidr6('::/0'), parseIPv6('2001:db8::1')!));
  assert.throws(() => parseCidr6('fd00::1'), /no prefix length/);
  assert.throws(() => parseCidr6('fd00::1/129'), /0 to 128/);
  assert.equal(parseAnyCidr('10.244.1.3/24').family, 4);
  assert.equal(parseAnyCidr('fd00::3/64').family, 6);
  assert.throws(() => parseAnyCidr('10.244.1.300/24'), /not an IPv4/);
});

test('ipv6Key: one key per address (surrogate words too), back to the same bytes and text; its prefix test agrees with prefix6Contains', () => {
  const texts = ['::', '::1', '2001:db8::1', 'fd00:1::3', 'd800::dfff', 'dbff:dc00::ffff', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'];
  const keys = texts.map((t) => ipv6Key(parseIPv6(t)!));
  assert.equal(new Set(keys).size, texts.length, 'distinct addresses, distinct keys');
  keys.forEach((k, i) => {
    assert.equal(k.length, 8);
    assert.equal(formatIPv6Key(k), texts[i]);
    const back = new Uint8Array(20);
    writeIPv6Key(k, back, 2);
    assert.deepEqual(back.subarray(2, 18), parseIPv6(texts[i]));
  });
  const inPacket = new Uint8Array(24);
  inPacket.set(parseIPv6('2001:db8::1')!, 8);
  assert.equal(ipv6Key(inPacket, 8), keys[2], 'read at an offset');
  let seed = 7;
  const random = (): number => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
  for (const cidr of ['::/0', 'fd00:1::/60', 'fd00:1::/64', 'fd00:1::3/127', 'fd00:1::3/128', '2001:db8:8000::/33']) {
    const prefix = parseCidr6(cidr);
    for (let n = 0; n < 400; n++) {
      const a = new Uint8Array(prefix.network);
      // Keep a random number of leading bits of the network, randomise the rest.
      const keep = random() % 129;
      for (let b = 0; b < 128; b++) if (b >= keep && random() & 1) a[b >> 3] ^= 0x80 >> (b & 7);
      assert.equal(ipv6KeyInPrefix(ipv6Key(a), prefix), prefix6Contains(prefix, a), `${formatIPv6(a)} in ${cidr}`);
    }
  }
});
