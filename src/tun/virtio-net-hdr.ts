// The virtio_net_hdr that a TUN opened with IFF_VNET_HDR puts in front of
// every packet, both ways (include/uapi/linux/virtio_net.h; 10 bytes, in
// the host's byte order, little-endian on every machine we build for):
//   u8 flags, u8 gso_type, u16 hdr_len, u16 gso_size, u16 csum_start, u16 csum_offset

export const VNET_HDR_LEN = 10;

export const VNET_F_NEEDS_CSUM = 1;
export const VNET_F_DATA_VALID = 2;

export const GSO_NONE = 0;
export const GSO_TCPV4 = 1;
export const GSO_UDP = 3;
export const GSO_TCPV6 = 4;
export const GSO_UDP_L4 = 5;
export const GSO_ECN = 0x80;

export interface VnetHdr {
  flags: number;
  gsoType: number;
  hdrLen: number;
  gsoSize: number;
  csumStart: number;
  csumOffset: number;
}

export function emptyVnetHdr(): VnetHdr {
  return { flags: 0, gsoType: GSO_NONE, hdrLen: 0, gsoSize: 0, csumStart: 0, csumOffset: 0 };
}

const le16 = (b: Uint8Array, o: number): number => b[o] | (b[o + 1] << 8);
const putLe16 = (b: Uint8Array, o: number, v: number): void => {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
};

/** Decodes the header at buf[off] into `out` (no allocation). */
export function readVnetHdr(buf: Uint8Array, off: number, out: VnetHdr): VnetHdr {
  out.flags = buf[off];
  out.gsoType = buf[off + 1];
  out.hdrLen = le16(buf, off + 2);
  out.gsoSize = le16(buf, off + 4);
  out.csumStart = le16(buf, off + 6);
  out.csumOffset = le16(buf, off + 8);
  return out;
}

export function writeVnetHdr(buf: Uint8Array, off: number, h: VnetHdr): void {
  buf[off] = h.flags;
  buf[off + 1] = h.gsoType;
  putLe16(buf, off + 2, h.hdrLen);
  putLe16(buf, off + 4, h.gsoSize);
  putLe16(buf, off + 6, h.csumStart);
  putLe16(buf, off + 8, h.csumOffset);
}

/** A header that asks nothing of the kernel: a plain, fully checksummed packet. */
export function writePlainVnetHdr(buf: Uint8Array, off: number): void {
  buf.fill(0, off, off + VNET_HDR_LEN);
}
