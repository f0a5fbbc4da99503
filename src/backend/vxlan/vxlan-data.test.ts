// The vxlan backend's records and config, in flannel's JSON exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseIPv4 } from '../../packet/addr.js';
import { formatMac, parseMac } from '../../packet/mac.js';
import { parseNetworkConfig } from '../../subnet/etcd/network-config.js';
import { parseSubnetEntry, subnetRecord } from '../../subnet/etcd/subnet-keys.js';
import { MAC_TAG_V4, peerVtepMac, vxlanRecord } from './vxlan-data.js';

const ip = (t: string): number => parseIPv4(t)!;

test("vxlan config: flannel's defaults (VNI 1, the kernel's port 8472, no GBP, no DirectRouting) and the fields as given", () => {
  const c = parseNetworkConfig('{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}}', '/k');
  assert.deepEqual([c.backend, c.port, c.vxlan], ['vxlan', 8472, { vni: 1, port: 8472, gbp: false, directRouting: false }]);
  const d = parseNetworkConfig('{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan", "VNI": 7, "Port": 4789, "GBP": true, "DirectRouting": true}}', '/k');
  assert.deepEqual(d.vxlan, { vni: 7, port: 4789, gbp: true, directRouting: true });
  assert.equal(parseNetworkConfig('{"Network": "10.244.0.0/16", "Backend": {"Type": "host-gw"}}', '/k').backend, 'host-gw');
});

test("a vxlan node's record is flannel's: BackendType vxlan, BackendData {VNI, VtepMAC}, and BackendV6Data on a dual-stack network", () => {
  const record = subnetRecord(ip('198.51.100.1'), undefined, undefined, vxlanRecord(1, ip('198.51.100.1'), true, false));
  assert.equal(record, '{"PublicIP":"198.51.100.1","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"0e:4c:c6:33:64:01"}}');
  const dual = JSON.parse(subnetRecord(ip('198.51.100.1'), undefined, { publicIpv6: new Uint8Array(16).fill(1) }, vxlanRecord(1, ip('198.51.100.1'), true, true)));
  assert.deepEqual([dual.BackendType, dual.BackendData.VtepMAC, dual.BackendV6Data.VtepMAC], ['vxlan', '0e:4c:c6:33:64:01', '0e:36:c6:33:64:01']);
  const hostGw = subnetRecord(ip('198.51.100.1'), undefined, undefined, { type: 'host-gw', data: null });
  assert.equal(hostGw, '{"PublicIP":"198.51.100.1","BackendType":"host-gw","BackendData":null}');
});

test("a peer's record read back on a vxlan network keeps BackendType and BackendData (flannel's own record too)", () => {
  const config = parseNetworkConfig('{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}}', '/k');
  // What flanneld 0.2x writes for a node (its VtepMAC is the random MAC of its flannel.1).
  const flannel = '{"PublicIP":"198.51.100.9","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c2:1d:92:2a:5e:01"}}';
  const parsed = parseSubnetEntry('/p', '/p/subnets/10.244.9.0-24', flannel, config);
  assert.ok('lease' in parsed);
  assert.deepEqual([parsed.lease.backendType, parsed.lease.backendData], ['vxlan', { VNI: 1, VtepMAC: 'c2:1d:92:2a:5e:01' }]);
  const mac = peerVtepMac(parsed.lease.backendData, parsed.lease.publicIp, MAC_TAG_V4, 1);
  assert.ok('mac' in mac);
  assert.equal(formatMac(mac.mac), 'c2:1d:92:2a:5e:01');
});

test('a VtepMAC that is not a MAC, a multicast one, another VNI or no VtepMAC at all is a problem named; no BackendData means the derived MAC', () => {
  const problem = (data: unknown): string => {
    const r = peerVtepMac(data, ip('198.51.100.2'), MAC_TAG_V4, 1);
    assert.ok('problem' in r, `accepted ${JSON.stringify(data)}`);
    return r.problem;
  };
  assert.match(problem({ VNI: 1, VtepMAC: 'zz:00:00:00:00:01' }), /VtepMAC "zz:00:00:00:00:01" is not a MAC address/);
  assert.match(problem({ VNI: 1, VtepMAC: '01:00:5e:00:00:01' }), /multicast/);
  assert.match(problem({ VNI: 2, VtepMAC: '0e:00:00:00:00:01' }), /VNI 2 is not this network's 1/);
  assert.match(problem({ VNI: 1 }), /no VtepMAC/);
  assert.match(problem('0e:00:00:00:00:01'), /not an object/);
  const derived = peerVtepMac(undefined, ip('198.51.100.2'), MAC_TAG_V4, 1);
  assert.ok('mac' in derived);
  assert.equal(formatMac(derived.mac), '0e:4c:c6:33:64:02');
  assert.equal(parseMac('0E:4C:C6:33:64:02')?.length, 6);
  assert.equal(parseMac('0e:4c:c6:33:64'), undefined);
});
