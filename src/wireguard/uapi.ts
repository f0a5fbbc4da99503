// WireGuard's cross-platform userspace API (the configuration protocol of
// wireguard.com/xplatform), which `wg` and `wg-quick` speak to a user-space
// WireGuard over /var/run/wireguard/<ifname>.sock: "get=1" answered with
// key=value lines, "set=1" followed by key=value lines; both end with a
// blank line and an "errno=N" line. Keys are hex. This file is the pure
// codec: a whole set is read and checked before anything of it is applied
// (wireguard-go applies up to the first bad line; ours applies all or
// nothing), and a get is written from the device's state.
import { AnyPrefix, formatAnyCidr, parseAnyCidr } from '../packet/addr6.js';
import { formatIPv4, parseIPv4 } from '../packet/addr.js';
import { formatIPv6, parseIPv6 } from '../packet/addr6.js';

/** The errnos the protocol answers with (as negative numbers on the wire after a set, like wireguard-go). */
export const UAPI_ERRNO = { EPERM: 1, EIO: 5, EINVAL: 22, EPROTO: 71, EADDRINUSE: 98 } as const;

export class UapiError extends Error {
  constructor(readonly errno: number, message: string) {
    super(message);
  }
}

/** A UDP endpoint: an IPv4 address as a number or an IPv6 one as 16 bytes, and a port. */
export interface UapiEndpoint {
  addr: number | Uint8Array;
  port: number;
}

/** One peer's section of a set. */
export interface UapiPeerSet {
  publicKey: Uint8Array;
  remove: boolean;
  updateOnly: boolean;
  /** All zero: no preshared key. */
  presharedKey?: Uint8Array;
  endpoint?: UapiEndpoint;
  /** Seconds; 0 turns it off. */
  persistentKeepalive?: number;
  replaceAllowedIps: boolean;
  allowedIps: AnyPrefix[];
}

/** A whole set operation, checked. */
export interface UapiSet {
  /** All zero: remove the key. */
  privateKey?: Uint8Array;
  listenPort?: number;
  fwmark?: number;
  replacePeers: boolean;
  peers: UapiPeerSet[];
}

const invalid = (message: string): never => {
  throw new UapiError(UAPI_ERRNO.EINVAL, message);
};

function key(value: string, what: string): Uint8Array {
  if (!/^[0-9a-f]{64}$/.test(value)) invalid(`${what}: not 64 lower-case hex digits`);
  return Uint8Array.from(Buffer.from(value, 'hex'));
}

function uint(value: string, max: number, what: string): number {
  if (!/^\d+$/.test(value)) invalid(`${what}: not a number`);
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n > max) invalid(`${what}: above ${max}`);
  return n;
}

const isTrue = (value: string, what: string): true => (value === 'true' ? true : invalid(`${what}: only "true" is allowed`));

/** "198.51.100.2:51820" or "[2001:db8::2]:51820". */
export function parseEndpoint(value: string): UapiEndpoint {
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(value) ?? /^([0-9.]+):(\d+)$/.exec(value);
  if (!m) return invalid(`endpoint ${value}: not IPv4:port or [IPv6]:port`);
  const port = uint(m[2], 65535, `endpoint ${value}`);
  const v4 = value.startsWith('[') ? undefined : parseIPv4(m[1]);
  const v6 = value.startsWith('[') ? parseIPv6(m[1]) : undefined;
  const addr = v4 ?? v6;
  if (addr === undefined) return invalid(`endpoint ${value}: not an address`);
  return { addr, port };
}

export function formatEndpoint(e: UapiEndpoint): string {
  return typeof e.addr === 'number' ? `${formatIPv4(e.addr)}:${e.port}` : `[${formatIPv6(e.addr)}]:${e.port}`;
}

/**
 * Reads the lines of a set (those after "set=1", without the blank line
 * that ends it).
 * @throws UapiError EINVAL (a bad value or unknown key) or EPROTO (a line without "=").
 */
export function parseUapiSet(lines: readonly string[]): UapiSet {
  const set: UapiSet = { replacePeers: false, peers: [] };
  let peer: UapiPeerSet | undefined;
  for (const line of lines) {
    const eq = line.indexOf('=');
    if (eq < 0) throw new UapiError(UAPI_ERRNO.EPROTO, `line "${line}" has no "="`);
    const k = line.slice(0, eq);
    const v = line.slice(eq + 1);
    if (k === 'public_key') {
      peer = { publicKey: key(v, 'public_key'), remove: false, updateOnly: false, replaceAllowedIps: false, allowedIps: [] };
      set.peers.push(peer);
      continue;
    }
    if (!peer) {
      switch (k) {
        case 'private_key':
          set.privateKey = key(v, 'private_key');
          break;
        case 'listen_port':
          set.listenPort = uint(v, 65535, 'listen_port');
          break;
        case 'fwmark':
          set.fwmark = uint(v, 0xffffffff, 'fwmark');
          break;
        case 'replace_peers':
          set.replacePeers = isTrue(v, 'replace_peers');
          break;
        default:
          invalid(`"${k}" is not a device key`);
      }
      continue;
    }
    switch (k) {
      case 'remove':
        peer.remove = isTrue(v, 'remove');
        break;
      case 'update_only':
        peer.updateOnly = isTrue(v, 'update_only');
        break;
      case 'preshared_key':
        peer.presharedKey = key(v, 'preshared_key');
        break;
      case 'endpoint':
        peer.endpoint = parseEndpoint(v);
        break;
      case 'persistent_keepalive_interval':
        peer.persistentKeepalive = uint(v, 65535, 'persistent_keepalive_interval');
        break;
      case 'replace_allowed_ips':
        peer.replaceAllowedIps = isTrue(v, 'replace_allowed_ips');
        break;
      case 'allowed_ip': {
        let p: AnyPrefix;
        try {
          p = parseAnyCidr(v);
        } catch {
          return invalid(`allowed_ip ${v}: not a prefix`);
        }
        if (!v.includes('/')) invalid(`allowed_ip ${v}: give the prefix length`);
        peer.allowedIps.push(p);
        break;
      }
      case 'protocol_version':
        if (v !== '1') invalid(`protocol_version ${v}: only 1 exists`);
        break;
      default:
        invalid(`"${k}" is not a peer key`);
    }
  }
  return set;
}

/** What a get reports of one peer. */
export interface UapiPeerState {
  publicKey: Uint8Array;
  presharedKey?: Uint8Array;
  endpoint?: UapiEndpoint;
  /** Wall-clock ms of the last handshake, 0 for none. */
  lastHandshakeMs: number;
  txBytes: number;
  rxBytes: number;
  persistentKeepalive: number;
  allowedIps: AnyPrefix[];
}

export interface UapiDeviceState {
  privateKey?: Uint8Array;
  listenPort: number;
  fwmark: number;
  peers: UapiPeerState[];
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** The answer to a get, "errno=0" and the blank line included. */
export function formatUapiGet(s: UapiDeviceState): string {
  const lines: string[] = [];
  if (s.privateKey) lines.push(`private_key=${hex(s.privateKey)}`);
  if (s.listenPort) lines.push(`listen_port=${s.listenPort}`);
  if (s.fwmark) lines.push(`fwmark=${s.fwmark}`);
  for (const p of s.peers) {
    lines.push(`public_key=${hex(p.publicKey)}`, `preshared_key=${hex(p.presharedKey ?? new Uint8Array(32))}`, 'protocol_version=1');
    if (p.endpoint) lines.push(`endpoint=${formatEndpoint(p.endpoint)}`);
    const secs = Math.floor(p.lastHandshakeMs / 1000);
    lines.push(
      `last_handshake_time_sec=${secs}`,
      `last_handshake_time_nsec=${Math.round((p.lastHandshakeMs - secs * 1000) * 1e6)}`,
      `tx_bytes=${p.txBytes}`,
      `rx_bytes=${p.rxBytes}`,
      `persistent_keepalive_interval=${p.persistentKeepalive}`,
      ...p.allowedIps.map((a) => `allowed_ip=${formatAnyCidr(a, false)}`),
    );
  }
  return `${lines.join('\n')}${lines.length ? '\n' : ''}errno=0\n\n`;
}

/** The answer to a set. */
export function formatUapiErrno(errno: number): string {
  return `errno=${errno === 0 ? 0 : -errno}\n\n`;
}
