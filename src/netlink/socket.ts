// A synchronous NETLINK_ROUTE socket: send one request, read until its
// answer is complete. Device setup is rare and short, so a blocking socket
// (with a receive timeout) keeps the API plain; the data path never uses it.
import { C, isSystemError, native } from '../native/addon.js';
import { errnoName, isPermissionErrno, PERMISSION_HINT, TunDriverError } from '../errors.js';
import { withNetns } from '../netns/netns.js';
import { decodeError, MessageBuilder, NlMessage, parseMessages } from './nl/codec.js';
import { NLM_F, NLMSG } from './nl/constants.js';

const RECV_BUFFER = 256 * 1024;
const RECV_TIMEOUT_SECONDS = 5;
const DUMP_RETRIES = 3;

/** A request the kernel refused: code `TUN_ERR_PERMISSION` for EPERM/EACCES, else `TUN_ERR_NETLINK`; `errno` and `errnoName` say which. */
export class NetlinkError extends TunDriverError {
  /** Positive errno from the kernel. */
  readonly errno: number;
  /** `what` names the request ("add route ..."), `errno` is positive. */
  constructor(what: string, errno: number, kernelMessage?: string) {
    const name = errnoName(errno);
    const detail = kernelMessage ? `${kernelMessage} (${name})` : name;
    const hint = isPermissionErrno(name) ? `: ${PERMISSION_HINT}` : '';
    super(isPermissionErrno(name) ? 'TUN_ERR_PERMISSION' : 'TUN_ERR_NETLINK', `${what}: ${detail}${hint}`, { errnoName: name });
    this.errno = errno;
  }
}

/** Where and how {@link NetlinkSocket.open} opens the socket. */
export interface NetlinkOpenOptions {
  /** Open the socket inside this named network namespace. */
  netns?: string;
  /** How long to wait for each answer (default 5 s). */
  timeoutSeconds?: number;
}

/** An rtnetlink (NETLINK_ROUTE) socket: one request at a time, answers checked by sequence number. The link, address and route functions take one. */
export class NetlinkSocket {
  private seq = Math.floor(Date.now() / 1000) >>> 0;
  private readonly rx = new Uint8Array(RECV_BUFFER);
  private readonly sizes = new Uint32Array(1);
  private closed = false;

  private constructor(private readonly fd: number, private readonly timeoutSeconds: number) {}

  /**
   * Opens a socket (inside `options.netns` when given).
   * @throws TunDriverError `TUN_ERR_NETLINK` (socket refused), `TUN_ERR_NETNS` (no such namespace), `TUN_ERR_PERMISSION`.
   */
  static open(options: NetlinkOpenOptions = {}): NetlinkSocket {
    const make = (): number => native.socket(C.AF_NETLINK, C.SOCK_RAW, C.NETLINK_ROUTE);
    let fd: number;
    try {
      fd = options.netns ? withNetns(options.netns, make) : make();
    } catch (err) {
      if (err instanceof TunDriverError) throw err;
      throw new TunDriverError('TUN_ERR_NETLINK', `cannot open a netlink socket: ${(err as Error).message}`, { cause: err });
    }
    try {
      native.setsockoptInt(fd, C.SOL_NETLINK, C.NETLINK_EXT_ACK, 1);
      native.setsockoptInt(fd, C.SOL_NETLINK, C.NETLINK_CAP_ACK, 1);
      const timeval = new Uint8Array(16);
      new DataView(timeval.buffer).setBigInt64(0, BigInt(options.timeoutSeconds ?? RECV_TIMEOUT_SECONDS), true);
      native.setsockoptBytes(fd, C.SOL_SOCKET, C.SO_RCVTIMEO, timeval);
      native.bindNetlink(fd, 0);
    } catch (err) {
      native.close(fd);
      throw err;
    }
    return new NetlinkSocket(fd, options.timeoutSeconds ?? RECV_TIMEOUT_SECONDS);
  }

  /** Closes the socket. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    native.close(this.fd);
  }

  /**
   * Sends a request built with NLM_F_ACK (NEW/DEL/SET) and waits for the
   * ACK; throws NetlinkError with the kernel's reason on refusal.
   */
  ack(what: string, request: MessageBuilder): void {
    this.exchange(what, request);
  }

  /** Sends a request built with NLM_F_DUMP and returns every answer message. */
  dump(what: string, request: MessageBuilder): NlMessage[] {
    for (let attempt = 1; ; attempt++) {
      const { messages, interrupted } = this.exchange(what, request);
      // NLM_F_DUMP_INTR: the table changed under the dump; ask again.
      if (!interrupted || attempt >= DUMP_RETRIES) return messages;
    }
  }

  /** Sends a GET for one object; returns its message, or throws NetlinkError (ENODEV, ...). */
  get(what: string, request: MessageBuilder): NlMessage {
    const { messages } = this.exchange(what, request);
    if (messages.length === 0) throw new NetlinkError(what, 61 /* ENODATA */);
    return messages[0];
  }

  private exchange(what: string, request: MessageBuilder): { messages: NlMessage[]; interrupted: boolean } {
    if (this.closed) throw new TunDriverError('TUN_ERR_NETLINK', 'netlink socket is closed');
    const seq = (this.seq = (this.seq + 1) >>> 0);
    const msg = request.finish(seq);
    let sent: number;
    try {
      sent = native.writeBatch(this.fd, msg, Uint32Array.of(0), Uint32Array.of(msg.length), 1);
    } catch (err) {
      throw this.ioError(what, err);
    }
    if (sent !== 1) throw new TunDriverError('TUN_ERR_NETLINK', `${what}: the kernel did not take the request (netlink send buffer full)`);
    const isDump = (request.flags & NLM_F.DUMP) === NLM_F.DUMP;
    const out: NlMessage[] = [];
    let interrupted = false;
    for (;;) {
      let n: number;
      try {
        n = native.readBatch(this.fd, this.rx, this.rx.length, 0, 1, this.sizes);
      } catch (err) {
        throw this.ioError(what, err);
      }
      // readBatch returns 0 when read() gave EAGAIN, which on this blocking
      // socket means SO_RCVTIMEO ran out.
      if (n === 0) throw this.timeoutError(what);
      for (const m of parseMessages(this.rx.subarray(0, this.sizes[0]))) {
        if (m.seq !== seq) continue; // a late answer to an earlier request
        if (m.flags & NLM_F.DUMP_INTR) interrupted = true;
        if (m.type === NLMSG.ERROR) {
          const e = decodeError(m);
          if (e.errno !== 0) throw new NetlinkError(what, e.errno, e.message);
          return { messages: out, interrupted };
        }
        if (m.type === NLMSG.DONE) return { messages: out, interrupted };
        out.push({ ...m, data: m.data.slice() });
        if (!isDump && !(m.flags & NLM_F.MULTI)) return { messages: out, interrupted };
      }
    }
  }

  private timeoutError(what: string, cause?: unknown): TunDriverError {
    return new TunDriverError('TUN_ERR_NETLINK', `${what}: no answer from the kernel within ${this.timeoutSeconds}s`, { cause });
  }

  private ioError(what: string, err: unknown): TunDriverError {
    if (isSystemError(err) && err.code === 'EAGAIN') return this.timeoutError(what, err);
    return new TunDriverError('TUN_ERR_NETLINK', `${what}: ${(err as Error).message}`, { cause: err });
  }
}
