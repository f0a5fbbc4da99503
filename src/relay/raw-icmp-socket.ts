// The Linux network side of the relay: one raw IPPROTO_ICMP socket.
//
// Why raw and not one ping socket (SOCK_DGRAM/IPPROTO_ICMP) per flow: ping
// sockets need net.ipv4.ping_group_range to include our group, which is
// "1 0" (nobody, not even root) in a fresh network namespace; and one raw
// socket moves every flow's replies in one recvmmsg. The price is that a
// raw socket sees all ICMP arriving at the host, so the relay must pick out
// its own flows (flow-table.ts) and ignore the rest (no DUP!s).
import { C, isSystemError, native } from '../native/addon.js';
import { isPermissionErrno, PERMISSION_HINT, TunDriverError } from '../errors.js';
import { PacketBatch, Spans } from '../io/batch.js';
import { FdReader } from '../io/fd-reader.js';
import { formatIPv4 } from '../packet/addr.js';
import { IcmpNetwork } from './network.js';

const SOL_RAW = 255;
const ICMP_FILTER = 1;

export interface RawIcmpOptions {
  /** Source address for outgoing requests (bind). */
  bind?: number;
  /** Leave through this interface only (SO_BINDTODEVICE). */
  via?: string;
  receiveBufferBytes?: number;
}

export class RawIcmpSocket implements IcmpNetwork {
  private readonly reader: FdReader;
  private ttl = -1;
  private closed = false;

  private constructor(private readonly fd: number) {
    this.reader = new FdReader(fd, (b) => native.recvBatch(fd, b.buf, b.slotSize, b.headroom, b.capacity, b.sizes, b.addrs, 0));
  }

  static open(options: RawIcmpOptions = {}): RawIcmpSocket {
    let fd: number;
    try {
      fd = native.socket(C.AF_INET, C.SOCK_RAW | C.SOCK_NONBLOCK, C.IPPROTO_ICMP);
    } catch (err) {
      const code = isSystemError(err) ? err.code : undefined;
      if (isPermissionErrno(code)) throw new TunDriverError('TUN_ERR_PERMISSION', `cannot open a raw ICMP socket: ${PERMISSION_HINT.replace('CAP_NET_ADMIN', 'CAP_NET_ADMIN and CAP_NET_RAW')}`, { cause: err, errnoName: code });
      throw err;
    }
    try {
      const size = options.receiveBufferBytes ?? 4 << 20;
      try {
        native.setsockoptInt(fd, C.SOL_SOCKET, C.SO_RCVBUFFORCE, size);
      } catch {
        native.setsockoptInt(fd, C.SOL_SOCKET, C.SO_RCVBUF, size);
      }
      // Kernel-side filter (ICMP_FILTER): only echo replies and the errors
      // that can concern our requests reach us; the host's other ICMP
      // (echo requests from third hosts, redirects, ...) never wakes us.
      const wanted = (1 << 0) | (1 << 3) | (1 << 11) | (1 << 12);
      const mask = new Uint8Array(4);
      new DataView(mask.buffer).setUint32(0, ~wanted >>> 0, true);
      native.setsockoptBytes(fd, SOL_RAW, ICMP_FILTER, mask);
      if (options.via) {
        try {
          native.setsockoptBytes(fd, C.SOL_SOCKET, C.SO_BINDTODEVICE, new TextEncoder().encode(options.via + '\0'));
        } catch (err) {
          throw new TunDriverError('TUN_ERR_USAGE', `--via ${options.via}: cannot bind to that interface (${(err as Error).message})`, { cause: err });
        }
      }
      if (options.bind !== undefined) {
        try {
          native.bindInet(fd, options.bind, 0);
        } catch (err) {
          throw new TunDriverError('TUN_ERR_USAGE', `--bind ${formatIPv4(options.bind)}: not an address of this host (${(err as Error).message})`, { cause: err });
        }
      }
    } catch (err) {
      native.close(fd);
      throw err;
    }
    return new RawIcmpSocket(fd);
  }

  send(spans: Spans, first: number, count: number, ttl: number, onRefused: (index: number, errnoName: string) => void): number {
    if (ttl !== this.ttl) {
      native.setsockoptInt(this.fd, C.IPPROTO_IP, C.IP_TTL, ttl);
      this.ttl = ttl;
    }
    let sent = 0;
    let at = first;
    const end = first + count;
    while (at < end) {
      let n: number;
      try {
        n = native.sendBatch(this.fd, spans.buf, spans.offsets, spans.lengths, spans.addrs, end - at, at);
      } catch (err) {
        onRefused(at, isSystemError(err) ? err.code : 'EIO');
        at++;
        continue;
      }
      if (n === 0) {
        // EAGAIN: the send buffer is full; what is left is dropped.
        for (; at < end; at++) onRefused(at, 'EAGAIN');
        break;
      }
      sent += n;
      at += n;
    }
    return sent;
  }

  startReading(batch: PacketBatch, onBatch: (batch: PacketBatch) => void, onError: (err: Error) => void): void {
    this.reader.start(batch, onBatch, onError);
  }

  stopReading(): void {
    this.reader.stop();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.reader.stop();
    native.close(this.fd);
  }
}
