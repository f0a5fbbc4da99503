// A lab host that runs Debian's wireguard-go instead of tun-driver, set up
// the way flannel's wireguard backend sets up a node: the wg interface
// holds the subnet's first address with the network's prefix (so the
// kernel routes the whole cluster network into it while the host's own
// subnet stays on cni0), one peer per other node with its subnet as
// allowed IPs, configured with `wg setconf`. For interop tests and the
// benchmark's wireguard-go rows. Interface names must differ across
// namespaces: wireguard-go's UAPI socket directory is shared.
import { ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab } from '../src/lab/lab.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface WgGoPeer {
  publicKey: string;
  endpoint: string;
  allowedIps: string;
  /** Base64, as wg genpsk prints. */
  presharedKey?: string;
}

export interface WgShowPeer {
  publicKey: string;
  /** Unix seconds of the latest handshake, 0 for none. */
  latestHandshake: number;
  rxBytes: number;
  txBytes: number;
}

export class WireguardGoNode {
  private child?: ChildProcess;
  private readonly dir = mkdtempSync(join(tmpdir(), 'tdlab-wggo-'));

  /**
   * @param iface a name unique on the machine (<= 15 characters)
   * @param address the subnet's first address with the network's prefix, e.g. 10.244.3.0/16
   */
  constructor(readonly lab: Lab, readonly node: string, readonly iface: string, readonly privateKey: string, readonly listenPort: number, readonly address: string, readonly mtu = 1440) {}

  /** Starts wireguard-go in the foreground of its own process, configures it and brings the interface up. */
  async start(peers: WgGoPeer[]): Promise<void> {
    let err = '';
    this.child = this.lab.spawn(this.node, 'wireguard-go', ['-f', this.iface], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: '1', LOG_LEVEL: 'error' } });
    this.child.stderr!.on('data', (d) => (err += d));
    for (let i = 0; i < 100 && this.child.exitCode === null; i++) {
      if ((await this.lab.run(this.node, 'wg', ['show', this.iface])).code === 0) break;
      await sleep(50);
    }
    if (this.child.exitCode !== null) throw new Error(`wireguard-go exited (${this.child.exitCode}) before it was up: ${err}`);
    await this.setconf(peers);
    await this.must('ip', ['addr', 'add', this.address, 'dev', this.iface]);
    await this.must('ip', ['link', 'set', this.iface, 'mtu', String(this.mtu), 'up']);
    if (this.child.exitCode !== null) throw new Error(`wireguard-go exited: ${err}`);
  }

  /** `wg setconf` with this node's key and port and `peers` (replacing any before). */
  async setconf(peers: WgGoPeer[]): Promise<void> {
    const file = join(this.dir, 'wg.conf');
    const text = [`[Interface]`, `PrivateKey = ${this.privateKey}`, `ListenPort = ${this.listenPort}`, ''];
    for (const p of peers) text.push('[Peer]', `PublicKey = ${p.publicKey}`, ...(p.presharedKey ? [`PresharedKey = ${p.presharedKey}`] : []), `Endpoint = ${p.endpoint}`, `AllowedIPs = ${p.allowedIps}`, '');
    writeFileSync(file, text.join('\n'));
    chmodSync(file, 0o600);
    await this.must('wg', ['setconf', this.iface, file]);
  }

  /** `wg show IFACE dump`, per peer. */
  async show(): Promise<WgShowPeer[]> {
    const r = await this.must('wg', ['show', this.iface, 'dump']);
    return r.trim().split('\n').slice(1).map((line) => {
      const f = line.split('\t');
      return { publicKey: f[0], latestHandshake: Number(f[4]), rxBytes: Number(f[5]), txBytes: Number(f[6]) };
    });
  }

  /** Stops wireguard-go (its interface goes with it). */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    const gone = new Promise((r) => child.on('exit', r));
    child.kill('SIGTERM');
    await Promise.race([gone, sleep(5000)]);
    if (child.exitCode === null) child.kill('SIGKILL');
    // The kernel removes the TUN after the process is gone: a start() of the same name before that
    // finds the interface still there (seen once in CI as a `wg setconf` with no daemon behind it).
    for (let i = 0; i < 100; i++) {
      if ((await this.lab.run(this.node, 'ip', ['link', 'show', this.iface])).code !== 0) break;
      await sleep(50);
    }
  }

  async close(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async must(cmd: string, args: string[]): Promise<string> {
    const r = await this.lab.run(this.node, cmd, args);
    if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} in ${this.node}: ${r.stderr}`);
    return r.stdout;
  }
}
