// tun-driver's error hierarchy. Every error the product raises on purpose
// has a stable `code` (TUN_ERR_...) and a message that says what to do.
import { constants } from 'node:os';

/** The stable codes of {@link TunDriverError}, one per kind of failure (see each member's comment). */
export type TunErrorCode =
  | 'TUN_ERR_USAGE' // bad flag, argument or config: exit 2, nothing changed
  | 'TUN_ERR_PERMISSION' // needs root / CAP_NET_ADMIN
  | 'TUN_ERR_NO_DEVICE' // a named device does not exist
  | 'TUN_ERR_EXISTS' // a device/namespace/route already exists
  | 'TUN_ERR_NETLINK' // the kernel refused a netlink request
  | 'TUN_ERR_NETNS' // a network namespace operation failed
  | 'TUN_ERR_TUN' // opening or attaching a TUN device failed
  | 'TUN_ERR_LAB' // a lab topology is invalid or could not be built
  | 'TUN_ERR_IO' // batch I/O on a device or socket failed
  | 'TUN_ERR_ETCD'; // etcd unreachable at start, or its network config missing, bad or full

/**
 * Every error tun-driver raises on purpose: a stable {@link TunDriverError.code} and a message that says what to do.
 * System errors underneath are kept as `cause` and, when there is one, `errnoName`.
 */
export class TunDriverError extends Error {
  readonly code: TunErrorCode;
  /** errno name of the underlying system error, when there is one ('EPERM'). */
  readonly errnoName?: string;

  /** `options.cause`: the underlying error; `options.errnoName`: its errno name ('EPERM'). */
  constructor(code: TunErrorCode, message: string, options?: { cause?: unknown; errnoName?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TunDriverError';
    this.code = code;
    this.errnoName = options?.errnoName;
  }

  /** Usage errors and missing privileges are the user's to fix: exit 2. */
  get isUserError(): boolean {
    return ['TUN_ERR_USAGE', 'TUN_ERR_PERMISSION', 'TUN_ERR_NO_DEVICE', 'TUN_ERR_EXISTS', 'TUN_ERR_LAB', 'TUN_ERR_ETCD'].includes(this.code);
  }
}

const ERRNO_NAMES = new Map<number, string>(Object.entries(constants.errno).map(([name, value]) => [value, name]));

/** 'EPERM' for 1, etc. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(Math.abs(errno)) ?? `E${Math.abs(errno)}`;
}

export const PERMISSION_HINT = 'run as root or grant CAP_NET_ADMIN (e.g. sudo tun-driver ...)';

export function isPermissionErrno(name: string | undefined): boolean {
  return name === 'EPERM' || name === 'EACCES';
}
