// A view over an ICMPv4 message (RFC 792), re-pointable like IPv4View.
import { checksum, updateChecksum16 } from './checksum.js';
import { get16, put16 } from './bytes.js';
import { IPPROTO, IPV4, writeIPv4Header } from './ipv4.js';
import { PacketView } from './view.js';

export const ICMP = {
  TYPE: 0,
  CODE: 1,
  CHECKSUM: 2,
  /** Echo: identifier; errors: unused / gateway / pointer. */
  ID: 4,
  /** Echo: sequence number; Fragmentation Needed: next-hop MTU. */
  SEQ: 6,
  NEXT_HOP_MTU: 6,
  HEADER: 8,
} as const;

/** ICMP message types the project uses. */
export const ICMP_TYPE = {
  ECHO_REPLY: 0,
  DEST_UNREACH: 3,
  REDIRECT: 5,
  ECHO_REQUEST: 8,
  TIME_EXCEEDED: 11,
  PARAM_PROBLEM: 12,
} as const;

/** Codes of Destination Unreachable. */
export const ICMP_UNREACH = {
  NET: 0,
  HOST: 1,
  PROTOCOL: 2,
  PORT: 3,
  FRAG_NEEDED: 4,
  NET_PROHIBITED: 9,
  HOST_PROHIBITED: 10,
  ADMIN_PROHIBITED: 13,
} as const;

/** Why {@link IcmpView.check} refused a message. */
export type IcmpProblem = 'truncated' | 'bad-checksum';

/** An ICMP message; attach it with the IP payload's offset and length. */
export class IcmpView extends PacketView {
  /** Length of the whole ICMP message (the IP payload length). */
  get length(): number { return this.available; }

  /** The one validity check: a full 8-byte header and a correct checksum. */
  check(): IcmpProblem | undefined {
    if (this.length < ICMP.HEADER || this.off + this.length > this.buf.length) return 'truncated';
    if (checksum(this.buf, this.off, this.off + this.length) !== 0) return 'bad-checksum';
    return undefined;
  }

  get type(): number { return this.buf[this.off]; }
  get code(): number { return this.buf[this.off + ICMP.CODE]; }
  get checksum(): number { return get16(this.buf, this.off + ICMP.CHECKSUM); }
  get id(): number { return get16(this.buf, this.off + ICMP.ID); }
  get seq(): number { return get16(this.buf, this.off + ICMP.SEQ); }
  get nextHopMtu(): number { return get16(this.buf, this.off + ICMP.NEXT_HOP_MTU); }
  get isEcho(): boolean { return this.type === ICMP_TYPE.ECHO_REQUEST || this.type === ICMP_TYPE.ECHO_REPLY; }
  get isError(): boolean {
    const t = this.type;
    return t === ICMP_TYPE.DEST_UNREACH || t === ICMP_TYPE.TIME_EXCEEDED || t === ICMP_TYPE.PARAM_PROBLEM;
  }
  /** Offset in `buf` of the data after the 8-byte header (the embedded packet of an error). */
  get dataOffset(): number { return this.off + ICMP.HEADER; }

  /** Rewrites the echo identifier with an incremental checksum update. */
  setId(id: number): void { this.setWord(ICMP.ID, id); }
  /** Sets the echo sequence number, updating the checksum incrementally. */
  setSeq(seq: number): void { this.setWord(ICMP.SEQ, seq); }

  /** Changes the type (echo request <-> reply) with an incremental update. */
  setType(type: number): void {
    const o = this.off + ICMP.TYPE;
    const oldWord = get16(this.buf, o);
    this.buf[o] = type;
    put16(this.buf, this.off + ICMP.CHECKSUM, updateChecksum16(this.checksum, oldWord, get16(this.buf, o)));
  }

  /** Computes the ICMP checksum over the whole message and stores it. */
  fillChecksum(): void {
    put16(this.buf, this.off + ICMP.CHECKSUM, 0);
    put16(this.buf, this.off + ICMP.CHECKSUM, checksum(this.buf, this.off, this.off + this.length));
  }

  private setWord(field: number, value: number): void {
    const o = this.off + field;
    put16(this.buf, this.off + ICMP.CHECKSUM, updateChecksum16(this.checksum, get16(this.buf, o), value));
    put16(this.buf, o, value);
  }
}

/**
 * Writes an echo message (request or reply) at b[o]: header, then
 * `payload`, then the checksum. Returns the message length.
 */
export function writeIcmpEcho(b: Uint8Array, o: number, type: number, id: number, seq: number, payload: Uint8Array): number {
  b[o] = type;
  b[o + ICMP.CODE] = 0;
  put16(b, o + ICMP.ID, id);
  put16(b, o + ICMP.SEQ, seq);
  b.set(payload, o + ICMP.HEADER);
  const length = ICMP.HEADER + payload.length;
  put16(b, o + ICMP.CHECKSUM, 0);
  put16(b, o + ICMP.CHECKSUM, checksum(b, o, o + length));
  return length;
}

/** The fields {@link writeEchoPacket} writes: addresses, type, identifier, sequence, payload. */
export interface EchoPacketFields {
  type: number;
  src: number;
  dst: number;
  id: number;
  seq: number;
  payload: Uint8Array;
  ttl?: number;
  /** IPv4 identification (default: seq). */
  ipId?: number;
}

/** Writes a whole IPv4 + ICMP echo packet at b[o]; returns its length. */
export function writeEchoPacket(b: Uint8Array, o: number, f: EchoPacketFields): number {
  const icmpLength = writeIcmpEcho(b, o + IPV4.MIN_HEADER, f.type, f.id, f.seq, f.payload);
  writeIPv4Header(b, o, { src: f.src, dst: f.dst, protocol: IPPROTO.ICMP, payloadLength: icmpLength, ttl: f.ttl ?? 64, id: f.ipId ?? f.seq });
  return IPV4.MIN_HEADER + icmpLength;
}
