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
import { RxBatch, Spans } from '../io/batch.js';
import { DatagramSocket } from '../io/datagram-socket.js';
import { PollLoop } from '../io/poll-loop.js';
import { bindAddress, bindToDevice, setBuffers } from '../io/socket-options.js';
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
  private ttl = -1;

  private constructor(private readonly socket: DatagramSocket) {}

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
      setBuffers(fd, options.receiveBufferBytes ?? 4 << 20);
      // Kernel-side filter (ICMP_FILTER): only echo replies and the errors
      // that can concern our requests reach us; the host's other ICMP
      // (echo requests from third hosts, redirects, ...) never wakes us.
      const wanted = (1 << 0) | (1 << 3) | (1 << 11) | (1 << 12);
      const mask = new Uint8Array(4);
      new DataView(mask.buffer).setUint32(0, ~wanted >>> 0, true);
      native.setsockoptBytes(fd, SOL_RAW, ICMP_FILTER, mask);
      if (options.via) bindToDevice(fd, options.via);
      if (options.bind !== undefined) bindAddress(fd, options.bind, 0);
    } catch (err) {
      native.close(fd);
      throw err;
    }
    return new RawIcmpSocket(new DatagramSocket(fd));
  }

  /** The TTL is a socket option: set only when it changes. */
  send(spans: Spans, first: number, count: number, ttl: number, onRefused: (index: number, errnoName: string) => void): number {
    if (ttl !== this.ttl) {
      native.setsockoptInt(this.socket.fd, C.IPPROTO_IP, C.IP_TTL, ttl);
      this.ttl = ttl;
    }
    return this.socket.send(spans, first, count, onRefused);
  }

  startReading(batch: RxBatch, onBatch: (batch: RxBatch) => void, onError: (err: Error) => void, loop?: PollLoop): void {
    this.socket.startReading(batch, onBatch, onError, loop);
  }

  stopReading(): void {
    this.socket.stopReading();
  }

  close(): void {
    this.socket.close();
  }
}
