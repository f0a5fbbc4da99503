// Podman on lab nodes: a real container runtime calling the CNI plugin that
// `tun-driver cni install` put in place, on a machine where podman cannot
// run as it is. A user on a normal host needs none of this
// (docs/kubernetes.md); here it takes:
// - a private mount namespace per node (one long-lived holder process that
//   every command enters with nsenter --mount), with cgroup2 mounted on
//   /sys/fs/cgroup (this VM's is a cgroup-v1 tmpfs that runc refuses), and
//   tmpfs over every directory podman, runc and the CNI plugins keep state
//   in, so each node has its own /etc/cni/net.d, /opt/cni/bin, image store
//   and IPAM store, and nothing of it reaches the machine's filesystem;
//   /usr/lib/cni (Debian's plugins) gets an overlay so an install can add
//   to it without writing the real one;
// - podman's CNI backend (Debian 12 also ships netavark), cgroupfs and file
//   events (no systemd), runc, and rlimits at or below the sandbox's own;
// - an image imported from a tar of Debian's static busybox (no registry is
//   reachable).
// Entering a node's net namespace is done by Lab.spawn (setns), not
// `ip netns exec`, whose fresh mount namespace per call would hide podman's
// netns bind mounts from the next command.
import { ChildProcess, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmdirSync, rmSync, symlinkSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Lab } from '../src/lab/lab.js';

/** Where podman, runc and the CNI plugins keep state: a tmpfs each inside a node's sandbox. */
const PRIVATE_DIRS = ['/var/lib/containers', '/run/containers', '/run/libpod', '/run/runc', '/var/lib/cni', '/etc/cni/net.d', '/opt/cni/bin', '/run/netns', '/etc/containers/networks', '/var/tmp'];
/** Made by mount(8) itself the first time it records a mount. */
const MOUNT_DIRS = ['/run/mount'];

/** podman's global flags for this machine. */
export const PODMAN_GLOBAL = ['--network-backend', 'cni', '--cgroup-manager', 'cgroupfs', '--events-backend', 'file'];
/** `podman run` flags every container here needs (runc; rlimits the sandbox allows; ping needs NET_RAW). */
export const PODMAN_RUN = ['--runtime', 'runc', '--pids-limit=-1', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=4096:4096', '--ulimit', 'memlock=8388608:8388608', '--cap-add', 'NET_RAW'];
/** The image every node imports. */
export const BUSYBOX_IMAGE = 'localhost/tdlab-busybox';

export interface CommandResult { code: number | null; stdout: string; stderr: string }

/** What is missing for podman here, or undefined when it can run. */
export function podmanMissing(): string | undefined {
  const missing = ['/usr/bin/podman', '/usr/sbin/runc', '/usr/bin/busybox', '/usr/lib/cni/portmap'].filter((p) => !existsSync(p));
  return missing.length ? `${missing.join(', ')} not installed (bash scripts/setup-debian.sh installs podman, runc, busybox-static)` : undefined;
}

/** One node's sandbox: its holder process keeps the mount namespace every command enters. */
export class PodmanNode {
  constructor(readonly lab: Lab, readonly node: string, private readonly holder: ChildProcess) {}

  /** Runs `command` in this node's network and mount namespaces. */
  exec(command: string, args: string[], timeoutMs = 60_000): Promise<CommandResult> {
    return this.lab.run(this.node, 'nsenter', [`--mount=/proc/${this.holder.pid}/ns/mnt`, '--', command, ...args], timeoutMs);
  }

  podman(args: string[], timeoutMs = 60_000): Promise<CommandResult> {
    return this.exec('podman', [...PODMAN_GLOBAL, ...args], timeoutMs);
  }

  /** `podman run -d` of the busybox image on `network`; resolves with the container's id, throws with podman's message. */
  async runDetached(name: string, network: string, command: string[], extra: string[] = []): Promise<string> {
    const r = await this.podman(['run', '-d', '--name', name, '--network', network, ...PODMAN_RUN, ...extra, BUSYBOX_IMAGE, ...command]);
    if (r.code !== 0) throw new Error(`podman run ${name} on ${this.node} failed (${r.code}): ${r.stderr.trim()}`);
    return r.stdout.trim();
  }

  /** The files under `dir` in this sandbox (e.g. /var/lib/cni). */
  async files(dir: string): Promise<string[]> {
    const r = await this.exec('find', [dir, '-type', 'f']);
    return r.stdout.split('\n').filter(Boolean).sort();
  }

  async close(): Promise<void> {
    await this.podman(['rm', '--all', '--force', '--time', '0']).catch(() => undefined);
    if (this.holder.exitCode === null && this.holder.signalCode === null) {
      const gone = new Promise((resolve) => this.holder.once('exit', resolve));
      this.holder.kill('SIGKILL');
      await gone;
    }
  }
}

/**
 * Podman sandboxes on some nodes of a lab, and the image they share.
 * close() removes every container, ends the sandboxes (their tmpfs go with
 * them) and removes the empty mount points it had to make on the machine.
 */
export class PodmanLab {
  readonly nodes = new Map<string, PodmanNode>();

  private constructor(private readonly madeDirs: string[], private readonly workDir: string) {}

  static async open(lab: Lab, nodes: string[]): Promise<PodmanLab> {
    const madeDirs: string[] = [];
    for (const d of [...PRIVATE_DIRS, ...MOUNT_DIRS]) {
      for (let p = d; !existsSync(p); p = dirname(p)) madeDirs.push(p);
    }
    for (const d of PRIVATE_DIRS) mkdirSync(d, { recursive: true });
    const workDir = mkdtempSync(join(tmpdir(), 'tdlab-podman-'));
    const pl = new PodmanLab([...new Set(madeDirs)], workDir);
    try {
      const image = busyboxTar(workDir);
      for (const node of nodes) {
        const n = await pl.sandbox(lab, node);
        pl.nodes.set(node, n);
        const imported = await n.podman(['import', '--change', 'ENV PATH=/bin', image, BUSYBOX_IMAGE]);
        if (imported.code !== 0) throw new Error(`podman import on ${node}: ${imported.stderr.trim()}`);
      }
    } catch (err) {
      await pl.close();
      throw err;
    }
    return pl;
  }

  node(name: string): PodmanNode {
    const n = this.nodes.get(name);
    if (!n) throw new Error(`no podman sandbox on ${name}`);
    return n;
  }

  private async sandbox(lab: Lab, node: string): Promise<PodmanNode> {
    const store = join(this.workDir, node);
    const script = [
      'set -e',
      'mount -t cgroup2 none /sys/fs/cgroup',
      ...PRIVATE_DIRS.map((d) => `mount -t tmpfs tdlab-podman ${d}`),
      // The overlay's upper and work dirs live on a tmpfs too (the holder's own).
      `mount -t tmpfs tdlab-podman ${store}`,
      `mkdir ${store}/upper ${store}/work`,
      `mount -t overlay tdlab-podman -o lowerdir=/usr/lib/cni,upperdir=${store}/upper,workdir=${store}/work /usr/lib/cni`,
      'echo ready',
      'exec sleep infinity',
    ].join('\n');
    mkdirSync(store);
    const holder = lab.spawn(node, 'unshare', ['--mount', '--propagation', 'slave', 'sh', '-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    holder.stderr!.on('data', (d) => (stderr += d));
    await new Promise<void>((resolve, reject) => {
      holder.stdout!.once('data', () => resolve());
      holder.once('exit', (code) => reject(new Error(`podman sandbox on ${node} failed (${code}): ${stderr.trim()}`)));
    });
    return new PodmanNode(lab, node, holder);
  }

  async close(): Promise<void> {
    for (const n of this.nodes.values()) await n.close();
    this.nodes.clear();
    rmSync(this.workDir, { recursive: true, force: true });
    // Deepest first; a directory something else has put files in stays.
    for (const d of [...this.madeDirs].sort((a, b) => b.length - a.length)) {
      if (existsSync(d) && readdirSync(d).length === 0) rmdirSync(d);
    }
  }
}

/** A tar of Debian's static busybox with its applets as links in /bin. */
function busyboxTar(workDir: string): string {
  const root = join(workDir, 'image');
  mkdirSync(join(root, 'bin'), { recursive: true });
  copyFileSync('/usr/bin/busybox', join(root, 'bin', 'busybox'));
  const applets = execFileSync('/usr/bin/busybox', ['--list'], { encoding: 'utf8' }).split('\n').filter((a) => a && a !== 'busybox');
  for (const a of applets) symlinkSync('busybox', join(root, 'bin', a));
  const tar = join(workDir, 'busybox.tar');
  execFileSync('tar', ['-C', root, '-cf', tar, '.']);
  return tar;
}
