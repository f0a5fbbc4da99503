// The vxlan backend's record, exactly as flannel writes it under
// <prefix>/subnets/: "BackendType": "vxlan", "BackendData": {"VNI": 1,
// "VtepMAC": "0e:4c:c6:33:64:01"} (and "BackendV6Data" likewise for the
// IPv6 VTEP). Pure: what a peer's record says, or why it cannot be used.
import { formatMac, macFromIPv4, parseMac } from '../../packet/mac.js';

/** Tags in the second byte of a derived VTEP MAC: the IPv4 and IPv6 VTEPs of one node differ. */
export const MAC_TAG_V4 = 0x4c;
export const MAC_TAG_V6 = 0x36;

/**
 * The record a tun-driver vxlan node publishes: its VTEP MACs follow from
 * its public IP (so it can publish before its devices exist), one per
 * family the node runs.
 */
export function vxlanRecord(vni: number, publicIp: number, v4: boolean, v6: boolean): { type: 'vxlan'; data: unknown; v6Data?: unknown } {
  return {
    type: 'vxlan',
    data: v4 ? vxlanBackendData(vni, macFromIPv4(publicIp, MAC_TAG_V4)) : null,
    ...(v6 ? { v6Data: vxlanBackendData(vni, macFromIPv4(publicIp, MAC_TAG_V6)) } : {}),
  };
}

export function vxlanBackendData(vni: number, mac: Uint8Array): { VNI: number; VtepMAC: string } {
  return { VNI: vni, VtepMAC: formatMac(mac) };
}

/**
 * A peer's VTEP MAC from its BackendData (or BackendV6Data). A record
 * without BackendData (a hand-written leases file) gets the MAC that a
 * tun-driver node derives from its public IP; etcd records always carry one.
 */
export function peerVtepMac(data: unknown, publicIp: number, tag: number, vni: number): { mac: Uint8Array } | { problem: string } {
  if (data === undefined || data === null) return { mac: macFromIPv4(publicIp, tag) };
  if (typeof data !== 'object') return { problem: 'BackendData is not an object' };
  const d = data as { VNI?: unknown; VtepMAC?: unknown };
  if (d.VNI !== undefined && d.VNI !== vni) return { problem: `its VNI ${String(d.VNI)} is not this network's ${vni}` };
  if (typeof d.VtepMAC !== 'string') return { problem: 'BackendData has no VtepMAC' };
  const mac = parseMac(d.VtepMAC);
  if (!mac) return { problem: `VtepMAC "${d.VtepMAC}" is not a MAC address` };
  if (mac[0] & 1) return { problem: `VtepMAC ${d.VtepMAC} is a multicast address` };
  return { mac };
}
