// The etcd control plane's pure parts: flannel's config and key layout,
// subnet arithmetic, subnet.env, and the endpoint flag.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatCidr, formatIPv4, parseCidr, parseIPv4 } from '../../packet/addr.js';
import { freeSubnets, freeSubnets6, isLeasable, isLeasable6, leasableCount } from './allocation.js';
import { formatCidr6, formatIPv6, parseCidr6, parseIPv6 } from '../../packet/addr6.js';
import { pairedSubnet6 } from './subnet-lease.js';
import { parseEndpoints } from './etcd-connection.js';
import { bigIntToIPv6, parseNetworkConfig } from './network-config.js';
import { parseSubnetEntry, subnetKey, subnetRecord } from './subnet-keys.js';
import { formatSubnetEnv, parseSubnetEnv, readRememberedSubnet, readRememberedSubnet6, writeSubnetEnv } from './subnet-env.js';

const KEY = '/coreos.com/network/config';
const config = (json: object) => parseNetworkConfig(JSON.stringify(json), KEY);

test('network config: flannel defaults (SubnetLen 24, second to last subnet, udp port 8285)', () => {
  const c = config({ Network: '10.244.0.0/16' });
  const c4 = c.ipv4!;
  assert.equal(c4.subnetLen, 24);
  assert.equal(formatIPv4(c4.subnetMin), '10.244.1.0');
  assert.equal(formatIPv4(c4.subnetMax), '10.244.255.0');
  assert.equal(c.port, 8285);
  assert.equal(leasableCount(c4), 255);
  // A network smaller than a /22 gets subnets two bits longer.
  assert.equal(config({ Network: '10.9.0.0/24' }).ipv4!.subnetLen, 26);
});

test('network config: SubnetMin/Max, SubnetLen and Backend.Port as given', () => {
  const c = config({ Network: '10.244.0.0/16', SubnetLen: 26, SubnetMin: '10.244.10.70', SubnetMax: '10.244.10.200', Backend: { Type: 'udp', Port: 9000 } });
  assert.deepEqual([c.ipv4!.subnetLen, formatIPv4(c.ipv4!.subnetMin), formatIPv4(c.ipv4!.subnetMax), c.port], [26, '10.244.10.64', '10.244.10.192', 9000]);
  assert.equal(leasableCount(c.ipv4!), 3);
});

test("network config: flannel's wireguard backend (ListenPort, default 51820, and PSK)", () => {
  const c = config({ Network: '10.244.0.0/16', Backend: { Type: 'wireguard' } });
  assert.deepEqual([c.backend, c.port, c.psk], ['wireguard', 51820, undefined]);
  const psk = Buffer.alloc(32, 7).toString('base64');
  const d = config({ Network: '10.244.0.0/16', Backend: { Type: 'wireguard', ListenPort: 51000, PSK: psk } });
  assert.deepEqual([d.backend, d.port, Buffer.from(d.psk!).toString('base64')], ['wireguard', 51000, psk]);
  assert.equal(config({ Network: '10.244.0.0/16' }).backend, 'udp');
});

test('network config: every mistake names the key and the field', () => {
  const cases: Array<[string, RegExp]> = [
    ['{"Network": 10', /^\/coreos\.com\/network\/config: not valid JSON/],
    ['{}', /config: Network is required/],
    ['{"Network": "10.244.0.0"}', /Network "10\.244\.0\.0" is not an IPv4 CIDR/],
    ['{"Network": "10.244.1.0/16"}', /has host bits set: use 10\.244\.0\.0\/16/],
    ['{"Network": "10.244.0.0/16", "SubnetLen": 16}', /SubnetLen 16 must be longer than the network's \/16/],
    ['{"Network": "10.244.0.0/16", "SubnetLen": 31}', /at most 30/],
    ['{"Network": "10.244.0.0/16", "SubnetMin": "10.245.0.0"}', /SubnetMin 10\.245\.0\.0 is outside the network/],
    ['{"Network": "10.244.0.0/16", "SubnetMin": "10.244.9.0", "SubnetMax": "10.244.3.0"}', /SubnetMin 10\.244\.9\.0 is above SubnetMax 10\.244\.3\.0/],
    ['{"Network": "10.244.0.0/16", "Backend": {"Type": "ipip"}}', /Backend\.Type "ipip" is not supported: tun-driver carries "udp", "wireguard", "vxlan", "host-gw"/],
    ['{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan", "VNI": 0}}', /Backend\.VNI 0 is outside 1\.\.16777215/],
    ['{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan", "VNI": 16777216}}', /Backend\.VNI 16777216 is outside/],
    ['{"Network": "10.244.0.0/16", "Backend": {"Type": "udp", "VNI": 3}}', /Backend\.VNI, GBP and DirectRouting are for "Type": "vxlan"/],
    ['{"Network": "10.244.0.0/16", "Backend": {"Port": 70000}}', /Backend\.Port/],
    ['{"Network": "10.244.0.0/16", "Backend": {"Type": "wireguard", "PSK": "short"}}', /Backend\.PSK is not a key: .*as wg genpsk prints/],
    ['{"Network": "10.244.0.0/16", "Backend": {"Type": "udp", "PSK": "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo="}}', /Backend\.PSK is for "Type": "wireguard"/],
  ];
  for (const [text, message] of cases) assert.throws(() => parseNetworkConfig(text, KEY), (err: Error & { code?: string }) => message.test(err.message) && err.code === 'TUN_ERR_ETCD', text);
});

test('free subnets skip taken ones and ones inside a taken shorter prefix', () => {
  const c = config({ Network: '10.244.0.0/16', SubnetMin: '10.244.1.0', SubnetMax: '10.244.8.0' }).ipv4!;
  const taken = ['10.244.1.0/24', '10.244.3.0/24', '10.244.4.0/23'].map(parseCidr);
  assert.deepEqual(freeSubnets(c, taken).map((p) => formatCidr(p, false)), ['10.244.2.0/24', '10.244.6.0/24', '10.244.7.0/24', '10.244.8.0/24']);
  assert.deepEqual(freeSubnets(c, taken, 2).map((p) => formatCidr(p, false)), ['10.244.2.0/24', '10.244.6.0/24']);
  assert.equal(isLeasable(c, parseCidr('10.244.9.0/24')), false, 'above SubnetMax');
  assert.equal(isLeasable(c, parseCidr('10.244.2.0/25')), false, 'wrong size');
  assert.equal(isLeasable(c, parseCidr('10.244.2.0/24')), true);
});

test("subnet keys and records use flannel's layout", () => {
  const c = config({ Network: '10.244.0.0/16' });
  assert.equal(subnetKey('/coreos.com/network', parseCidr('10.244.7.0/24')), '/coreos.com/network/subnets/10.244.7.0-24');
  assert.equal(subnetRecord(0xc6336401), '{"PublicIP":"198.51.100.1","BackendType":"udp","BackendData":null}');
  const ok = parseSubnetEntry('/p', '/p/subnets/10.244.7.0-24', subnetRecord(0xc6336401), c);
  assert.deepEqual(ok, { lease: { subnet: { network: 0x0af40700, address: 0x0af40700, length: 24 }, publicIp: 0xc6336401, port: 8285 } });
  // A node with a key publishes it as flannel's WireGuard backend does, in BackendData.
  const key = 'hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=';
  assert.equal(subnetRecord(0xc6336401, key), `{"PublicIP":"198.51.100.1","BackendType":"wireguard","BackendData":{"PublicKey":"${key}"}}`);
  assert.deepEqual(parseSubnetEntry('/p', '/p/subnets/10.244.7.0-24', subnetRecord(0xc6336401, key), c), { lease: { subnet: { network: 0x0af40700, address: 0x0af40700, length: 24 }, publicIp: 0xc6336401, port: 8285, publicKey: key } });
  for (const [key, value, problem] of [
    ['/p/subnets/10.244.7.0-24', '{"PublicIP": "198.51.100.1", "BackendData": {"PublicKey": "short"}}', /BackendData\.PublicKey is not a public key/],
    ['/p/subnets/10.244.7.0_24', subnetRecord(1), /not a subnet key/],
    ['/p/subnets/10.9.7.0-24', subnetRecord(1), /outside the network/],
    ['/p/subnets/10.244.7.0-24', '{"PublicIP": "nope"}', /no valid "PublicIP"/],
    ['/p/subnets/10.244.7.0-24', 'garbage', /no valid "PublicIP"/],
  ] as Array<[string, string, RegExp]>) {
    const r = parseSubnetEntry('/p', key, value, c);
    assert.ok('problem' in r && problem.test(r.problem), `${key} ${value}: ${JSON.stringify(r)}`);
  }
});

test('subnet.env is written whole, as flannel writes it, and read back', () => {
  const dir = mkdtempSync(join(tmpdir(), 'td-subnet-env-'));
  try {
    const path = join(dir, 'deeper', 'subnet.env');
    writeSubnetEnv(path, { network: parseCidr('10.244.0.0/16'), subnet: parseCidr('10.244.7.0/24'), mtu: 1472, ipMasq: false });
    assert.equal(readFileSync(path, 'utf8'), 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.7.1/24\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=false\n');
    assert.equal(formatCidr(readRememberedSubnet(path)!, false), '10.244.7.0/24');
    assert.equal(readRememberedSubnet(join(dir, 'missing.env')), undefined);
    writeFileSync(path, 'FLANNEL_SUBNET=bogus\n');
    assert.equal(readRememberedSubnet(path), undefined);
    assert.match(formatSubnetEnv({ network: parseCidr('10.0.0.0/8'), subnet: parseCidr('10.3.0.0/16'), mtu: 1400, ipMasq: true }), /FLANNEL_SUBNET=10\.3\.0\.1\/16\nFLANNEL_MTU=1400\nFLANNEL_IPMASQ=true/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--etcd-endpoints: URLs checked up front, default port 2379', () => {
  assert.deepEqual(parseEndpoints('http://198.51.100.1:2379, http://198.51.100.2'), ['http://198.51.100.1:2379', 'http://198.51.100.2:2379']);
  for (const [text, message] of [
    ['', /give at least one URL/],
    ['198.51.100.1:2379', /"198\.51\.100\.1:2379" is not a URL like http:\/\/198\.51\.100\.1:2379/],
    ['https://198.51.100.1:2379,http://198.51.100.2:2379', /https:\/\/ for every endpoint or for none/],
    ['http://198.51.100.1:2379/v2', /must be http:\/\/HOST:PORT or https/],
    ['not a url', /is not a URL/],
  ] as Array<[string, RegExp]>) {
    assert.throws(() => parseEndpoints(text), (err: Error & { code?: string }) => message.test(err.message) && err.code === 'TUN_ERR_USAGE', text);
  }
});

test("etcd TLS and authentication settings: flannel's flags, or FLANNELD_ETCD_* from the environment (a flag wins); mismatches named", async () => {
  const { etcdSecurityFrom, describeEtcdSecurity } = await import('./etcd-security.js');
  const dir = mkdtempSync(join(tmpdir(), 'td-etcdsec-'));
  try {
    for (const f of ['ca', 'cert', 'key', 'env-ca']) writeFileSync(join(dir, `${f}.pem`), `${f} pem`);
    const https = ['https://198.51.100.1:2379'];
    const fromEnv = etcdSecurityFrom({}, { FLANNELD_ETCD_CAFILE: join(dir, 'env-ca.pem'), FLANNELD_ETCD_CERTFILE: join(dir, 'cert.pem'), FLANNELD_ETCD_KEYFILE: join(dir, 'key.pem'), FLANNELD_ETCD_USERNAME: 'u', FLANNELD_ETCD_PASSWORD: 'p' }, https);
    assert.equal(fromEnv.ca!.toString(), 'env-ca pem');
    assert.equal(fromEnv.sources.ca, 'FLANNELD_ETCD_CAFILE (--etcd-cafile)');
    assert.deepEqual([fromEnv.username, fromEnv.password], ['u', 'p']);
    assert.equal(describeEtcdSecurity(fromEnv, https), 'TLS, client certificate, user u');
    const flagWins = etcdSecurityFrom({ etcdCafile: join(dir, 'ca.pem') }, { FLANNELD_ETCD_CAFILE: join(dir, 'env-ca.pem') }, https);
    assert.equal(flagWins.ca!.toString(), 'ca pem');
    for (const [flags, env, endpoints, message] of [
      [{ etcdCertfile: join(dir, 'cert.pem') }, {}, https, /--etcd-certfile needs --etcd-keyfile too/],
      [{ etcdKeyfile: join(dir, 'key.pem') }, {}, https, /--etcd-keyfile needs --etcd-certfile too/],
      [{ etcdUsername: 'u' }, {}, https, /--etcd-username needs --etcd-password too/],
      [{}, { FLANNELD_ETCD_PASSWORD: 'p' }, https, /FLANNELD_ETCD_PASSWORD \(--etcd-password\) needs --etcd-username too/],
      [{ etcdCafile: join(dir, 'nope.pem') }, {}, https, /--etcd-cafile .*nope\.pem: no such file/],
      [{ etcdCafile: join(dir, 'ca.pem') }, {}, ['http://198.51.100.1:2379'], /is for TLS: give --etcd-endpoints as https:\/\/ URLs/],
    ] as Array<[Record<string, string>, Record<string, string>, string[], RegExp]>) {
      assert.throws(() => etcdSecurityFrom(flags, env, endpoints), (err: Error & { code?: string }) => message.test(err.message) && err.code === 'TUN_ERR_USAGE', String(message));
    }
    assert.deepEqual(parseEndpoints('https://198.51.100.1'), ['https://198.51.100.1:2379']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("dual-stack network config: flannel's EnableIPv6 fields and defaults, and what is refused", () => {
  const c = config({ Network: '10.244.0.0/16', EnableIPv6: true, IPv6Network: 'fd00:10:244::/48' });
  assert.equal(c.ipv6?.subnetLen, 64);
  assert.equal(formatIPv6(bigIntToIPv6(c.ipv6!.subnetMin)), 'fd00:10:244:1::', 'the first subnet is skipped, as for IPv4');
  assert.equal(formatIPv6(bigIntToIPv6(c.ipv6!.subnetMax)), 'fd00:10:244:ffff::');
  // A network too small for /64s would get subnets two bits longer, as flannel does; tun-driver refuses those (pods' /64).
  assert.throws(() => config({ Network: '10.244.0.0/16', EnableIPv6: true, IPv6Network: 'fd00:10:244::/63' }), /at most 64/);
});

test('dual-stack network config: missing, malformed or too small IPv6 parts are named', () => {
  for (const [json, message] of [
    [{ Network: '10.244.0.0/16', EnableIPv6: true }, /IPv6Network is missing/],
    [{ Network: '10.244.0.0/16', EnableIPv6: true, IPv6Network: 'fd00:10:244::1/48' }, /host bits/],
    [{ Network: '10.244.0.0/16', EnableIPv6: true, IPv6Network: '10.0.0.0/8' }, /not an IPv6 CIDR/],
    [{ Network: '10.244.0.0/16', EnableIPv6: true, IPv6Network: 'fd00:10:244::/48', IPv6SubnetLen: 80 }, /at most 64/],
    [{ Network: '10.244.0.0/16', EnableIPv6: true, IPv6Network: 'fd00:10:244::/48', IPv6SubnetMin: 'fd00:99::' }, /outside the IPv6 network/],
    [{ Network: '10.244.0.0/16', IPv6Network: 'fd00:10:244::/48' }, /EnableIPv6 is not/],
    [{ EnableIPv4: false }, /no family left/],
    [{ EnableIPv4: false, EnableIPv6: true }, /IPv6Network is missing/],
    [{ EnableIPv6: true, IPv6Network: 'fd00:10:244::/48' }, /Network is required.*"EnableIPv4": false/],
  ] as Array<[object, RegExp]>) {
    assert.throws(() => config(json), message, JSON.stringify(json));
  }
});

test('dual-stack keys: one key for both subnets, the IPv6 one paired with the IPv4 one; an IPv4-only reader leaves the IPv6 part alone', () => {
  const c = config({ Network: '10.244.0.0/16', EnableIPv6: true, IPv6Network: 'fd00:10:244::/48' });
  const subnet6 = pairedSubnet6(c, parseCidr('10.244.7.0/24'))!;
  assert.equal(formatCidr6(subnet6), 'fd00:10:244:7::/64');
  const key = subnetKey('/coreos.com/network', parseCidr('10.244.7.0/24'), subnet6);
  assert.equal(key, '/coreos.com/network/subnets/10.244.7.0-24&fd00:10:244:7::-64');
  const record = subnetRecord(0xc6336401, undefined, { publicIpv6: parseIPv6('2001:db8:a::1') });
  assert.equal(record, '{"PublicIP":"198.51.100.1","PublicIPv6":"2001:db8:a::1","BackendType":"udp","BackendData":null,"BackendV6Data":null}');
  const parsed = parseSubnetEntry('/coreos.com/network', key, record, c);
  assert.ok('lease' in parsed);
  assert.equal(formatCidr6(parsed.lease.subnet6!), 'fd00:10:244:7::/64');
  assert.equal(formatIPv6(parsed.lease.publicIpv6!), '2001:db8:a::1');
  const v4only = parseSubnetEntry('/coreos.com/network', key, record, config({ Network: '10.244.0.0/16' }));
  assert.ok('lease' in v4only && v4only.lease.subnet6 === undefined);
  const outside = parseSubnetEntry('/coreos.com/network', '/coreos.com/network/subnets/10.244.7.0-24&fd00:99:7::-64', record, c);
  assert.ok('problem' in outside && /outside the IPv6 network/.test(outside.problem));
  assert.throws(() => pairedSubnet6(config({ Network: '10.244.0.0/16', EnableIPv6: true, IPv6Network: 'fd00:10:244::/48', IPv6SubnetMax: 'fd00:10:244:5::' }), parseCidr('10.244.7.0/24')), /outside IPv6SubnetMin\.\.IPv6SubnetMax/);
  const free = freeSubnets6(c.ipv6!, [parseCidr6('fd00:10:244:1::/64'), parseCidr6('fd00:10:244:2::/63')], 3);
  assert.deepEqual(free.map((p) => formatCidr6(p)), ['fd00:10:244:4::/64', 'fd00:10:244:5::/64', 'fd00:10:244:6::/64']);
  assert.equal(isLeasable6(c.ipv6!, parseCidr6('fd00:10:244::/64')), false, 'the first subnet is never leased');
});

test('subnet.env of a dual-stack node has FLANNEL_IPV6_NETWORK and FLANNEL_IPV6_SUBNET, and reads back', () => {
  const env = { network: parseCidr('10.244.0.0/16'), subnet: parseCidr('10.244.7.0/24'), mtu: 1472, ipMasq: true, network6: parseCidr6('fd00:10:244::/48'), subnet6: parseCidr6('fd00:10:244:7::/64') };
  const text = formatSubnetEnv(env);
  assert.equal(text, 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.7.1/24\nFLANNEL_IPV6_NETWORK=fd00:10:244::/48\nFLANNEL_IPV6_SUBNET=fd00:10:244:7::1/64\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n');
  const back = parseSubnetEnv(text);
  assert.equal(formatCidr6(back.subnet6!), 'fd00:10:244:7::/64');
  assert.throws(() => parseSubnetEnv(text.replace('fd00:10:244:7::1/64', 'fd00:99::1/64')), /outside FLANNEL_IPV6_NETWORK/);
});

test("IPv6-only network config (\"EnableIPv4\": false): no IPv4 half, flannel's key with an empty IPv4 subnet", () => {
  const c = config({ EnableIPv4: false, EnableIPv6: true, IPv6Network: 'fd00:10:244::/48' });
  assert.equal(c.ipv4, undefined);
  assert.equal(c.ipv6!.subnetLen, 64);
  assert.equal(formatCidr6(c.ipv6!.network, false), 'fd00:10:244::/48');
  // A Network given beside EnableIPv4 false is ignored, as flannel does.
  assert.equal(config({ Network: '10.244.0.0/16', EnableIPv4: false, EnableIPv6: true, IPv6Network: 'fd00:10:244::/48' }).ipv4, undefined);
  const subnet6 = parseCidr6('fd00:10:244:7::/64');
  const key = subnetKey('/coreos.com/network', undefined, subnet6);
  assert.equal(key, '/coreos.com/network/subnets/0.0.0.0-0&fd00:10:244:7::-64');
  const record = subnetRecord(parseIPv4('198.51.100.7')!, undefined, {});
  const parsed = parseSubnetEntry('/coreos.com/network', key, record, c);
  assert.ok('lease' in parsed, JSON.stringify(parsed));
  assert.equal(parsed.lease.subnet, undefined);
  assert.equal(formatCidr6(parsed.lease.subnet6!, false), 'fd00:10:244:7::/64');
  assert.equal(formatIPv4(parsed.lease.publicIp), '198.51.100.7');
  // The IPv6-only reader takes the IPv6 half of a dual-stack key; an IPv4-only key has nothing for it.
  const dual = parseSubnetEntry('/coreos.com/network', '/coreos.com/network/subnets/10.244.3.0-24&fd00:10:244:3::-64', record, c);
  assert.ok('lease' in dual && dual.lease.subnet === undefined && formatCidr6(dual.lease.subnet6!, false) === 'fd00:10:244:3::/64');
  assert.match((parseSubnetEntry('/coreos.com/network', '/coreos.com/network/subnets/10.244.3.0-24', record, c) as { problem: string }).problem, /no IPv6 subnet/);
  // Readers with IPv4 refuse an IPv6-only lease (they need an IPv4 subnet for every peer), and an empty IPv4 half needs an IPv6 one.
  const dualConfig = config({ Network: '10.244.0.0/16', EnableIPv6: true, IPv6Network: 'fd00:10:244::/48' });
  assert.match((parseSubnetEntry('/coreos.com/network', key, record, dualConfig) as { problem: string }).problem, /IPv6-only lease on a network with IPv4/);
  assert.match((parseSubnetEntry('/coreos.com/network', '/coreos.com/network/subnets/0.0.0.0-0', record, c) as { problem: string }).problem, /needs an IPv6 one/);
  assert.equal(pairedSubnet6(c, parseCidr('10.244.7.0/24')), undefined, 'no pairing without IPv4');
});

test('subnet.env of an IPv6-only node: FLANNEL_IPV6_* without FLANNEL_NETWORK/SUBNET, read back and remembered', () => {
  const env = { mtu: 1472, ipMasq: false, network6: parseCidr6('fd00:10:244::/48'), subnet6: parseCidr6('fd00:10:244:5::/64') };
  const text = formatSubnetEnv(env);
  assert.equal(text, 'FLANNEL_IPV6_NETWORK=fd00:10:244::/48\nFLANNEL_IPV6_SUBNET=fd00:10:244:5::1/64\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=false\n');
  const back = parseSubnetEnv(text);
  assert.equal(back.network, undefined);
  assert.equal(back.subnet, undefined);
  assert.equal(formatCidr6(back.subnet6!, false), 'fd00:10:244:5::/64');
  assert.throws(() => parseSubnetEnv('FLANNEL_MTU=1472\n'), /has no FLANNEL_NETWORK/, 'a file with neither family');
  const dir = mkdtempSync(join(tmpdir(), 'tdlab-env6-'));
  try {
    writeSubnetEnv(join(dir, 'subnet.env'), env);
    assert.equal(readRememberedSubnet(join(dir, 'subnet.env')), undefined);
    assert.equal(formatCidr6(readRememberedSubnet6(join(dir, 'subnet.env'))!, false), 'fd00:10:244:5::/64');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
