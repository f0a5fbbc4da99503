// Socket set-up shared by the relay's and the overlay's sockets, with
// errors that name the flag to fix.
import { C, native } from '../native/addon.js';
import { TunDriverError } from '../errors.js';
import { formatIPv4 } from '../packet/addr.js';

/** Large kernel buffers absorb bursts between two batches (FORCE works as root, plain otherwise). */
export function setBuffers(fd: number, bytes: number): void {
  for (const [force, plain] of [[C.SO_RCVBUFFORCE, C.SO_RCVBUF], [C.SO_SNDBUFFORCE, C.SO_SNDBUF]]) {
    try {
      native.setsockoptInt(fd, C.SOL_SOCKET, force, bytes);
    } catch {
      native.setsockoptInt(fd, C.SOL_SOCKET, plain, bytes);
    }
  }
}

/** SO_BINDTODEVICE, for --via. */
export function bindToDevice(fd: number, device: string): void {
  try {
    native.setsockoptBytes(fd, C.SOL_SOCKET, C.SO_BINDTODEVICE, new TextEncoder().encode(device + '\0'));
  } catch (err) {
    throw new TunDriverError('TUN_ERR_USAGE', `--via ${device}: cannot bind to that interface (${(err as Error).message})`, { cause: err });
  }
}

/** bind(addr, port), for --bind / --public-ip. */
export function bindAddress(fd: number, addr: number, port: number, flag = '--bind'): void {
  try {
    native.bindInet(fd, addr, port);
  } catch (err) {
    throw new TunDriverError('TUN_ERR_USAGE', `${flag} ${formatIPv4(addr)}: not an address of this host${port ? `, or port ${port} is taken` : ''} (${(err as Error).message})`, { cause: err });
  }
}
