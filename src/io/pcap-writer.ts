// A pcap file writer (the classic libpcap format that tcpdump -r and
// tshark -r read), LINKTYPE_RAW: each record is a bare IP packet. Bounded:
// once `maxBytes` would be exceeded it stops recording (the file stays
// valid) and reports that once. Records are buffered and written in
// chunks, so the data path pays a copy, not a syscall, per packet.
import { closeSync, openSync, writeSync } from 'node:fs';

const LINKTYPE_RAW = 101;
const GLOBAL_HEADER = 24;
const RECORD_HEADER = 16;
const SNAPLEN = 65535;
const FLUSH_BYTES = 1 << 20;
const FLUSH_MS = 250;

export class PcapWriter {
  private readonly fd: number;
  private readonly buffer = new Uint8Array(FLUSH_BYTES + RECORD_HEADER + SNAPLEN);
  private readonly view = new DataView(this.buffer.buffer);
  private used = 0;
  private written = 0;
  private full = false;
  private readonly timer: NodeJS.Timeout;
  /** Packets recorded, and packets left out because the file reached its bound. */
  recorded = 0;
  skipped = 0;

  constructor(readonly path: string, readonly maxBytes: number, private readonly onFull: () => void = () => {}) {
    this.fd = openSync(path, 'w', 0o600);
    const h = new DataView(new ArrayBuffer(GLOBAL_HEADER));
    h.setUint32(0, 0xa1b2c3d4, true); // magic (microsecond timestamps), little-endian file
    h.setUint16(4, 2, true);
    h.setUint16(6, 4, true);
    h.setUint32(16, SNAPLEN, true);
    h.setUint32(20, LINKTYPE_RAW, true);
    writeSync(this.fd, new Uint8Array(h.buffer));
    this.written = GLOBAL_HEADER;
    this.timer = setInterval(() => this.flush(), FLUSH_MS);
    this.timer.unref();
  }

  /** Records buf[off, off+len) with the current time. */
  record(buf: Uint8Array, off: number, len: number): void {
    const size = RECORD_HEADER + Math.min(len, SNAPLEN);
    if (this.full || this.written + this.used + size > this.maxBytes) {
      this.skipped++;
      if (!this.full) {
        this.full = true;
        this.onFull();
      }
      return;
    }
    const nowMs = performance.timeOrigin + performance.now();
    const seconds = Math.floor(nowMs / 1000);
    const v = this.view;
    v.setUint32(this.used, seconds, true);
    v.setUint32(this.used + 4, Math.floor((nowMs - seconds * 1000) * 1000), true);
    v.setUint32(this.used + 8, size - RECORD_HEADER, true);
    v.setUint32(this.used + 12, len, true);
    this.buffer.set(buf.subarray(off, off + size - RECORD_HEADER), this.used + RECORD_HEADER);
    this.used += size;
    this.recorded++;
    if (this.used >= FLUSH_BYTES) this.flush();
  }

  flush(): void {
    if (this.used === 0) return;
    writeSync(this.fd, this.buffer, 0, this.used);
    this.written += this.used;
    this.used = 0;
  }

  close(): void {
    clearInterval(this.timer);
    this.flush();
    closeSync(this.fd);
  }
}
