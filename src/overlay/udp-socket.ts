// The overlay's UDP socket on Linux, bound to the node's public IP and port.
import { C, native } from '../native/addon.js';
import { DatagramSocket } from '../io/datagram-socket.js';
import { bindAddress, bindToDevice, setBuffers } from '../io/socket-options.js';

export interface UdpSocketOptions {
  address: number;
  port: number;
  via?: string;
  bufferBytes?: number;
}

export function openOverlaySocket(options: UdpSocketOptions): DatagramSocket {
  const fd = native.socket(C.AF_INET, C.SOCK_DGRAM | C.SOCK_NONBLOCK, C.IPPROTO_UDP);
  try {
    setBuffers(fd, options.bufferBytes ?? 8 << 20);
    // Datagrams are sized to fit the underlay MTU; should a smaller MTU lie
    // on the path after all, let routers fragment them rather than drop.
    native.setsockoptInt(fd, C.IPPROTO_IP, C.IP_MTU_DISCOVER, C.IP_PMTUDISC_DONT);
    if (options.via) bindToDevice(fd, options.via);
    bindAddress(fd, options.address, options.port, '--public-ip');
  } catch (err) {
    native.close(fd);
    throw err;
  }
  return new DatagramSocket(fd);
}
