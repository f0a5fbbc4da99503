// The overlay's UDP socket on Linux, bound to the node's public IP and port.
import { C, native } from '../native/addon.js';
import { DatagramSocket } from '../io/datagram-socket.js';
import { bindAddress, bindToDevice, setBuffers } from '../io/socket-options.js';

/** Where the overlay socket binds (`address`:`port`, optionally only on interface `via`) and whether it offloads. */
export interface UdpSocketOptions {
  address: number;
  port: number;
  via?: string;
  bufferBytes?: number;
  /** UDP GSO on send and UDP GRO on receive (default: off). */
  offload?: boolean;
  /** Told once if the kernel refuses GSO (the socket goes on with sendmmsg). */
  onGsoOff?: (errnoName: string) => void;
}

/**
 * 16 MiB each way: at 10 Gbit/s that is 13 ms of traffic, enough to ride
 * out a garbage-collection pause or a slow batch without the kernel
 * dropping (a GRO buffer of 64 datagrams takes ~64 KiB of it at a time).
 */
export const OVERLAY_SOCKET_BUFFER = 16 << 20;

/**
 * Opens the overlay's UDP socket: non-blocking, 16 MiB buffers, IP_PMTUDISC_DONT, bound to address:port (and `via`), GSO/GRO when asked.
 * @throws TunDriverError `TUN_ERR_USAGE` (address not on this host, port in use, no such `via` interface), `TUN_ERR_PERMISSION`.
 */
export function openOverlaySocket(options: UdpSocketOptions): DatagramSocket {
  const fd = native.socket(C.AF_INET, C.SOCK_DGRAM | C.SOCK_NONBLOCK, C.IPPROTO_UDP);
  try {
    setBuffers(fd, options.bufferBytes ?? OVERLAY_SOCKET_BUFFER);
    // Datagrams are sized to fit the underlay MTU; should a smaller MTU lie
    // on the path after all, let routers fragment them rather than drop.
    native.setsockoptInt(fd, C.IPPROTO_IP, C.IP_MTU_DISCOVER, C.IP_PMTUDISC_DONT);
    if (options.via) bindToDevice(fd, options.via);
    bindAddress(fd, options.address, options.port, '--public-ip');
  } catch (err) {
    native.close(fd);
    throw err;
  }
  const socket = new DatagramSocket(fd, { gso: options.offload ?? false, onGsoOff: options.onGsoOff });
  if (options.offload) socket.enableGro();
  return socket;
}
