// `tun-driver wireguard [-f] <ifname>` (also the `tun-driver-wg` bin, for
// WG_QUICK_USERSPACE_IMPLEMENTATION): a user-space WireGuard interface, as
// `wireguard-go [-f] <ifname>` makes one. It creates the TUN and serves the
// userspace API; it configures nothing else (wg and wg-quick do). Without
// -f it detaches: it returns once the interface and its socket exist,
// leaving the daemon running (its log in /var/run/wireguard/<ifname>.log).
// The daemon exits, removing its socket, when the interface is deleted
// (wg-quick down does `ip link delete`) or on SIGINT/SIGTERM.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { createLogger, Logger } from '../log.js';
import { linkGet } from '../netlink/link.js';
import { NetlinkSocket } from '../netlink/socket.js';
import { checkInterfaceName } from '../tun/linux-tun.js';
import { TunDriverError } from '../errors.js';
import { WgInterface } from '../wg-interface/wg-interface.js';
import { answers, refuseIfServed, serveUapi, uapiDir, uapiSocketPath } from '../wg-interface/uapi-server.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Runs the interface in the foreground until it is deleted or signalled. */
export async function runWgInterface(ifname: string, log: Logger): Promise<void> {
  checkInterfaceName(ifname);
  const path = uapiSocketPath(ifname);
  await refuseIfServed(ifname); // before the TUN is made
  let stop: (why: string, code: number) => void = () => undefined;
  const stopped = new Promise<{ why: string; code: number }>((resolve) => {
    stop = (why, code) => resolve({ why, code });
  });
  const iface = WgInterface.create(ifname, (err) => {
    // The TUN went away: `ip link delete` (wg-quick down) is the normal way to stop.
    const nl = NetlinkSocket.open();
    let gone = false;
    try {
      gone = !linkGet(nl, ifname);
    } finally {
      nl.close();
    }
    stop(gone ? `${ifname} was deleted` : `${ifname} failed: ${err.message}`, gone ? 0 : 1);
  });
  let server: { close(): void } | undefined;
  try {
    server = await serveUapi(ifname, iface);
  } catch (err) {
    iface.close();
    throw err;
  }
  process.once('SIGINT', () => stop('stopping on SIGINT', 0)).once('SIGTERM', () => stop('stopping on SIGTERM', 0));
  log.info(`${ifname} up: a user-space WireGuard interface, configured through ${path} (wg, wg-quick)`);
  const { why, code } = await stopped;
  server.close();
  iface.close();
  log.info(`${why}: ${ifname} closed, ${path} removed`);
  process.exitCode = code;
}

/**
 * Starts the daemon detached and returns once its socket answers; a daemon
 * that fails at start is reported with the last line of its log.
 */
async function detach(ifname: string): Promise<void> {
  checkInterfaceName(ifname);
  const path = uapiSocketPath(ifname);
  await refuseIfServed(ifname); // else the other daemon's socket would look like ours coming up
  mkdirSync(uapiDir(), { recursive: true, mode: 0o755 });
  const logPath = join(uapiDir(), `${ifname}.log`);
  const fd = openSync(logPath, 'a', 0o600);
  const main = fileURLToPath(new URL('./wg-main.js', import.meta.url));
  const child = spawn(process.execPath, [main, '-f', ifname], { detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  let exited: number | null | undefined;
  child.once('exit', (code) => (exited = code));
  for (let waited = 0; waited < 10_000; waited += 50) {
    if (exited !== undefined) {
      const lines = readFileSync(logPath, 'utf8').trim().split('\n');
      throw new TunDriverError('TUN_ERR_USAGE', lines[lines.length - 1]?.replace(/^[^:]*: /, '') || `the daemon exited with ${exited}`);
    }
    if (existsSync(path) && (await answers(path))) {
      child.unref();
      return;
    }
    await sleep(50);
  }
  child.kill();
  throw new TunDriverError('TUN_ERR_IO', `${ifname} did not come up within 10 s (see ${logPath})`);
}

export function wireguardCommand(): Command {
  return new Command('wireguard')
    .description('a user-space WireGuard interface driven by wg and wg-quick through the userspace API, as wireguard-go makes one (also the tun-driver-wg command)')
    .argument('<ifname>', 'the interface to create, e.g. wg0')
    .option('-f, --foreground', 'stay in the foreground (default: detach once the interface is up)')
    .option('--json-log', 'log JSON lines instead of text')
    .addHelpText('after', `
Examples:
  tun-driver wireguard wg0 && wg setconf wg0 wg0.conf && ip addr add 10.9.0.1/24 dev wg0 && ip link set wg0 up
  WG_QUICK_USERSPACE_IMPLEMENTATION=tun-driver-wg wg-quick up ./wg0.conf
  wg show wg0
  ip link delete wg0          # the daemon exits and removes /var/run/wireguard/wg0.sock

It configures nothing itself: keys, peers, endpoints and allowed IPs come
through /var/run/wireguard/<ifname>.sock (mode 0600), addresses and routes
from ip or wg-quick.`)
    .action(async (ifname: string, opts: { foreground?: boolean; jsonLog?: boolean }) => {
      if (opts.foreground) await runWgInterface(ifname, createLogger('wireguard', { json: opts.jsonLog }));
      else await detach(ifname);
    });
}
