// Shared scaffolding for integration tests: they need root and build their
// own tdlab- namespaces, which they remove even when an assertion fails.
import { after, TestContext } from 'node:test';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { CHROMIUM } from '../../harness/chromium.js';
import { netnsCreate, netnsDelete, netnsExists } from '../../src/netns/netns.js';

export const IS_ROOT = process.getuid?.() === 0;
export const ROOT_SKIP = IS_ROOT ? false : 'needs root (namespaces, TUN devices): run as root, as CI does';

// Said once per file, loudly: a suite of skips must not read as a suite that passed.
if (!IS_ROOT) process.stderr.write(`\n*** ${process.argv[1]?.split('/').pop() ?? 'integration tests'}: NOT RUN — these tests need root (network namespaces, TUN devices); run them as root, as CI does ***\n\n`);

/** Browser tests need root (they run in a lab namespace) and Debian's Chromium. */
export const CHROMIUM_SKIP = ROOT_SKIP || (existsSync(CHROMIUM) ? false : `needs ${CHROMIUM} (bash scripts/setup-debian.sh installs it)`);

let counter = 0;

/** A fresh, uniquely named tdlab- namespace, deleted after the test file. */
export function scratchNetns(label: string): string {
  const name = `tdlab-t${process.pid % 100000}-${label}-${counter++}`;
  netnsCreate(name);
  after(() => {
    if (netnsExists(name)) netnsDelete(name);
  });
  return name;
}

/** Runs a command to completion (for checking against iproute2 and friends). */
export function run(cmd: string, args: string[], options: { input?: string; timeoutMs?: number } = {}): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input: options.input, timeout: options.timeoutMs ?? 30_000 });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** `ip -n NS -j ...` parsed. */
export function ipJson(netns: string, ...args: string[]): unknown {
  const r = run('ip', ['-n', netns, '-j', ...args]);
  if (r.code !== 0) throw new Error(`ip ${args.join(' ')} failed: ${r.stderr}`);
  return JSON.parse(r.stdout || '[]');
}

export function skipUnlessRoot(t: TestContext): boolean {
  if (IS_ROOT) return false;
  t.skip('needs root');
  return true;
}

export const CLI = new URL('../../src/cli/main.js', import.meta.url).pathname;

/** Runs the tun-driver CLI (this build) with `args`; never inside a shell. */
export function cli(args: string[], timeoutMs = 60_000): { code: number; stdout: string; stderr: string } {
  return run(process.execPath, [CLI, ...args], { timeoutMs });
}

/** Runs the tun-driver CLI inside a lab node, via `lab exec --lab`. */
export function cliIn(lab: string, node: string, args: string[]): { code: number; stdout: string; stderr: string } {
  return cli(['lab', 'exec', '--lab', lab, node, '--', 'tun-driver', ...args]);
}

/** A lab name unique to this test process. */
export function labName(label: string): string {
  return `t${process.pid % 100000}${label}`.slice(0, 20);
}

/** GETs http://127.0.0.1:PORT/PATH from inside a lab node (where the daemon listens). */
export async function fetchInNode(lab: import('../../src/lab/lab.js').Lab, node: string, port: number, path: string): Promise<string> {
  const r = await lab.run(node, process.execPath, ['-e', `fetch('http://127.0.0.1:${port}${path}').then((r) => r.text()).then((t) => process.stdout.write(t), (e) => { console.error(String(e)); process.exit(1); })`]);
  if (r.code !== 0) throw new Error(`GET ${path} in ${node}: ${r.stderr}`);
  return r.stdout;
}

/** The value of one Prometheus sample, e.g. metric('tun_driver_packets_total{direction="tun_to_net"') */
export function metricValue(text: string, prefix: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(prefix));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}
