// The state every header view shares: which bytes it looks at. A view is
// re-pointed with attach() for each packet, so a hot loop allocates none.

export abstract class PacketView {
  buf: Uint8Array = new Uint8Array(0);
  off = 0;
  /** Bytes available from `off` (what was read, not what a header claims). */
  available = 0;

  /** A view over buf[off, off + available); views are reused across packets with `attach()`. */
  constructor(buf?: Uint8Array, off = 0, available = buf ? buf.length - off : 0) {
    if (buf) this.attach(buf, off, available);
  }

  /** Points the view at another packet (no copy, no allocation); returns the view. */
  attach(buf: Uint8Array, off = 0, available = buf.length - off): this {
    this.buf = buf;
    this.off = off;
    this.available = available;
    return this;
  }
}
