// The package as a user imports it: `import('tun-driver')` resolves through
// package.json's exports map to the public API, and only that.
import { test } from 'node:test';
import assert from 'node:assert/strict';

test("import('tun-driver') gives the public API", async () => {
  const api = await import('tun-driver');
  for (const name of ['LinuxTun', 'RxBatch', 'SpanList', 'DatagramSocket', 'NetlinkSocket', 'linkList', 'addrAdd', 'routeReplace', 'IPv4View', 'checksum', 'IcmpRelay', 'Overlay', 'Lab', 'MemoryTun', 'TunDriverError', 'WireGuard', 'PollLoop']) {
    assert.equal(typeof (api as Record<string, unknown>)[name], 'function', name);
  }
  // A pure round trip through the exported pieces: build, view, check.
  const b = new Uint8Array(28);
  api.writeIPv4Header(b, 0, { src: api.parseIPv4('10.244.1.2')!, dst: api.parseIPv4('10.244.2.2')!, protocol: api.IPPROTO.UDP, payloadLength: 8 });
  assert.equal(new api.IPv4View(b, 0, 28).check(), undefined);
  assert.equal(api.formatCidr(api.parseCidr('10.244.1.0/24')), '10.244.1.0/24');
});
