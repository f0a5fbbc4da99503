// The rtnetlink wire codec: message header, family headers, attributes
// (with NLA_ALIGNTO = 4 alignment and nesting), and NLMSG_ERROR decoding
// with extended-ack text. Pure: no sockets here, so it is tested against
// bytes captured from iproute2.
import { endianness } from 'node:os';
import { NLMSG, NLM_F, NLMSGERR_ATTR } from './constants.js';

if (endianness() !== 'LE') throw new Error('tun-driver netlink codec assumes a little-endian host');

/** Rounds up to a multiple of 4 (NLMSG_ALIGN); exact for any length a u32 field can hold. */
const align4 = (n: number): number => Math.ceil(n / 4) * 4;
const NLA_HEADER = 4;
const NLA_TYPE_MASK = 0x3fff; // strips NLA_F_NESTED / NLA_F_NET_BYTEORDER

/** Builds one netlink message: header, family struct, attributes. */
export class MessageBuilder {
  private buf = new Uint8Array(256);
  private view = new DataView(this.buf.buffer);
  private len: number = NLMSG.HEADER_LEN;
  private nests: number[] = [];

  constructor(readonly type: number, readonly flags: number) {}

  private reserve(n: number): number {
    const at = this.len;
    const need = align4(at + n);
    if (need > this.buf.length) {
      const bigger = new Uint8Array(Math.max(need, this.buf.length * 2));
      bigger.set(this.buf);
      this.buf = bigger;
      this.view = new DataView(bigger.buffer);
    }
    this.len = need;
    return at;
  }

  /** Appends raw bytes (a family header such as ifinfomsg), padded to 4. */
  bytes(data: Uint8Array): this {
    const at = this.reserve(data.length);
    this.buf.set(data, at);
    return this;
  }

  /** Appends an attribute (padded to 4 bytes). */
  attr(type: number, payload: Uint8Array): this {
    const at = this.reserve(NLA_HEADER + payload.length);
    this.view.setUint16(at, NLA_HEADER + payload.length, true);
    this.view.setUint16(at + 2, type, true);
    this.buf.set(payload, at + NLA_HEADER);
    return this;
  }

  /** Appends a u32 attribute (host byte order, as rtnetlink wants). */
  attrU32(type: number, value: number): this {
    const p = new Uint8Array(4);
    new DataView(p.buffer).setUint32(0, value, true);
    return this.attr(type, p);
  }

  /** Appends an s32 attribute (host byte order). */
  attrS32(type: number, value: number): this {
    const p = new Uint8Array(4);
    new DataView(p.buffer).setInt32(0, value, true);
    return this.attr(type, p);
  }

  /**
   * A string attribute, NUL-terminated like IFLA_IFNAME; pass
   * terminate=false where iproute2 sends none (IFLA_INFO_KIND).
   */
  attrString(type: number, value: string, terminate = true): this {
    const text = Buffer.from(terminate ? value + '\0' : value, 'utf8');
    return this.attr(type, new Uint8Array(text.buffer, text.byteOffset, text.length));
  }

  /** Opens a nested attribute; close it with endNest(). */
  beginNest(type: number): this {
    const at = this.reserve(NLA_HEADER);
    this.view.setUint16(at + 2, type, true);
    this.nests.push(at);
    return this;
  }

  /**
   * Closes the innermost nested attribute.
   * @throws Error when no nest is open (a programming error).
   */
  endNest(): this {
    const at = this.nests.pop();
    if (at === undefined) throw new Error('endNest without beginNest');
    this.view.setUint16(at, this.len - at, true);
    return this;
  }

  /** Finishes the message with its sequence number and port id. */
  finish(seq: number, pid = 0): Uint8Array {
    if (this.nests.length) throw new Error('unclosed nested attribute');
    this.view.setUint32(0, this.len, true);
    this.view.setUint16(4, this.type, true);
    this.view.setUint16(6, this.flags, true);
    this.view.setUint32(8, seq >>> 0, true);
    this.view.setUint32(12, pid >>> 0, true);
    return this.buf.slice(0, this.len);
  }
}

/** One netlink message: type, flags, sequence and its payload. */
export interface NlMessage {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  /** The payload after the 16-byte header (family struct + attributes). */
  data: Uint8Array;
}

/** Splits a buffer from recv() into messages; stops at a malformed length. */
export function parseMessages(buf: Uint8Array): NlMessage[] {
  const out: NlMessage[] = [];
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let at = 0;
  while (at + NLMSG.HEADER_LEN <= buf.length) {
    const len = view.getUint32(at, true);
    if (len < NLMSG.HEADER_LEN || at + len > buf.length) break;
    out.push({
      type: view.getUint16(at + 4, true),
      flags: view.getUint16(at + 6, true),
      seq: view.getUint32(at + 8, true),
      pid: view.getUint32(at + 12, true),
      data: buf.subarray(at + NLMSG.HEADER_LEN, at + len),
    });
    at += align4(len);
  }
  return out;
}

/** Attributes by type (the last one wins if a type repeats). */
export type Attrs = Map<number, Uint8Array>;

/** Parses the attributes in data[start..]; stops at a malformed one. */
export function parseAttrs(data: Uint8Array, start = 0): Attrs {
  const attrs: Attrs = new Map();
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let at = start;
  while (at >= 0 && at + NLA_HEADER <= data.length) {
    const len = view.getUint16(at, true);
    if (len < NLA_HEADER || at + len > data.length) break;
    attrs.set(view.getUint16(at + 2, true) & NLA_TYPE_MASK, data.subarray(at + NLA_HEADER, at + len));
    at += align4(len);
  }
  return attrs;
}

export const attrU32 = (a: Uint8Array | undefined): number | undefined =>
  a && a.length >= 4 ? new DataView(a.buffer, a.byteOffset, 4).getUint32(0, true) : undefined;

export const attrU8 = (a: Uint8Array | undefined): number | undefined => (a && a.length >= 1 ? a[0] : undefined);

export const attrString = (a: Uint8Array | undefined): string | undefined => {
  if (!a) return undefined;
  const nul = a.indexOf(0);
  return Buffer.from(a.buffer, a.byteOffset, nul < 0 ? a.length : nul).toString('utf8');
};

/** Reads a u64 as a number (exact below 2^53, ample for packet counters). */
export function readU64(a: Uint8Array, offset: number): number {
  const view = new DataView(a.buffer, a.byteOffset, a.byteLength);
  return view.getUint32(offset, true) + view.getUint32(offset + 4, true) * 0x100000000;
}

export interface NlError {
  /** 0 for an ACK, otherwise a positive errno. */
  errno: number;
  /** Sequence number of the request it answers. */
  seq: number;
  /** The kernel's extended-ack text, when it gave one. */
  message?: string;
}

/** Decodes the payload of an NLMSG_ERROR message (an ACK when errno is 0). */
export function decodeError(msg: NlMessage): NlError {
  const view = new DataView(msg.data.buffer, msg.data.byteOffset, msg.data.byteLength);
  if (msg.data.length < 4 + NLMSG.HEADER_LEN) return { errno: 0, seq: msg.seq };
  const errno = -view.getInt32(0, true);
  const seq = view.getUint32(4 + 8, true);
  if (!(msg.flags & NLM_F.ACK_TLVS)) return { errno, seq };
  // The original request follows the error code: its header only when the
  // kernel capped it, the whole message otherwise. Ext-ack TLVs come after.
  const originalLen = msg.flags & NLM_F.CAPPED ? NLMSG.HEADER_LEN : view.getUint32(4, true);
  const attrs = parseAttrs(msg.data, 4 + align4(originalLen));
  return { errno, seq, message: attrString(attrs.get(NLMSGERR_ATTR.MSG)) };
}
