import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatIPv6, parseAnyCidr, parseCidr6, parseIPv6, prefix6Contains } from './addr6.js';

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
