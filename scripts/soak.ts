// npm run soak [-- --minutes N] [--sealed [--keep-key]] — a bounded soak in a cluster
// lab: iperf3 TCP pod to pod plus a ping at 100/s through the overlay
// (with --sealed: WireGuard between the daemons, rekeying every 2 minutes,
// and host-2's key rotated by SIGHUP half-way through under load, unless
// --keep-key), and the relay
// (on host-1's tun19) under `ping -f` from four pingers at once. Every
// --sample-seconds it prints each daemon's RSS, the overlay's throughput,
// TUN transmit drops and the relay's counters. It fails (exit 1) if a
// daemon's RSS grows more than 10 % after the warm-up (the first minute,
// or the first third of a shorter run), if any counter says
// internal-error, or if a daemon dies. Everything stays in its tdlab- lab.
import { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generatePrivateKey, publicKeyOf } from '../src/wireguard/keys.js';
import { parseArgs } from 'node:util';
import { leaseFor, OverlayCluster } from '../harness/overlay-cluster.js';
import { DaemonRun, parsePing, startRelay } from '../harness/daemon-harness.js';

const CLI = new URL('../src/cli/main.js', import.meta.url).pathname;
const LAB = 'soak';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function rssMb(pid: number | undefined): number {
  if (!pid) return NaN;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

export interface SoakResult { ok: boolean; problems: string[]; samples: number }

/** Writes a new key for each host into `dir` and the leases file with their public keys; returns the key files. */
function keyHosts(cluster: OverlayCluster, dir: string): string[] {
  const files = [1, 2].map((h) => join(dir, `host-${h}.key`));
  const keys = files.map((f) => {
    const k = generatePrivateKey();
    writeFileSync(f, k, { mode: 0o600 });
    return k;
  });
  cluster.writeLeases([1, 2].map((h) => ({ ...leaseFor(h), publicKey: publicKeyOf(keys[h - 1]) })));
  return files;
}

export async function soak(minutes: number, sampleSeconds: number, log: (line: string) => void = console.log, options: { sealed?: boolean; keepKey?: boolean } = {}): Promise<SoakResult> {
  const seconds = Math.round(minutes * 60);
  const warmupSeconds = Math.min(60, Math.round(seconds / 3));
  const cluster = await OverlayCluster.up(LAB, 2, 1);
  const children: ChildProcess[] = [];
  const problems: string[] = [];
  const keyDir = options.sealed ? mkdtempSync(join(tmpdir(), 'tdlab-soak-keys-')) : undefined;
  let rotated = false;
  let samples = 0;
  try {
    const keyFiles = keyDir ? keyHosts(cluster, keyDir) : [];
    await cluster.start(1, keyDir ? ['--private-key', keyFiles[0]] : []);
    await cluster.start(2, keyDir ? ['--private-key', keyFiles[1]] : []);
    const relay: DaemonRun = await startRelay(cluster.lab, 'host-1', ['--tun', 'tun19', '--address', '10.245.0.3/24']);
    const status = async (host: number, tun: string): Promise<any> => {
      const r = await cluster.lab.run(`host-${host}`, process.execPath, [CLI, 'status', '--tun', tun, '--json']);
      if (r.code !== 0) throw new Error(`status of ${tun} on host-${host}: ${r.stderr.trim()}`);
      return JSON.parse(r.stdout)[0];
    };
    const daemons = { 'overlay-1': cluster.daemons.get(1)!, 'overlay-2': cluster.daemons.get(2)!, relay };
    children.push(cluster.lab.spawn('host-2-pod1', 'iperf3', ['-s', '-1'], { stdio: 'ignore' }));
    await sleep(400);
    children.push(cluster.lab.spawn('host-1-pod1', 'iperf3', ['-c', '10.244.2.2', '-t', String(seconds)], { stdio: 'ignore' }));
    let pingOutput = '';
    const pinger = cluster.lab.spawn('host-1-pod1', 'ping', ['-i', '0.01', '-c', String(seconds * 100), '-w', String(seconds + 5), '-W', '1', '-q', '10.244.2.2'], { stdio: ['ignore', 'pipe', 'ignore'] });
    pinger.stdout!.on('data', (d) => (pingOutput += d));
    children.push(pinger);
    for (let k = 0; k < 4; k++) children.push(cluster.lab.spawn('host-1', 'ping', ['-f', '-q', '-w', String(seconds), '-I', 'tun19', '198.51.100.2'], { stdio: 'ignore' }));
    log(`soak: ${minutes} min; sampling every ${sampleSeconds} s; RSS must not grow > 10 % after the first ${warmupSeconds} s`);
    log('  t s  RSS MB ovl-1  ovl-2  relay   overlay Mbit/s  TUN tx drops  relay requests/replies  internal errors');
    const baseline: Record<string, number> = {};
    let lastBytes = 0;
    let lastAt = Date.now();
    const started = Date.now();
    while (Date.now() - started < seconds * 1000) {
      await sleep(sampleSeconds * 1000);
      const t = Math.round((Date.now() - started) / 1000);
      const rss = Object.fromEntries(Object.entries(daemons).map(([name, d]) => [name, rssMb(d.child.pid)]));
      for (const [name, d] of Object.entries(daemons)) {
        if (d.child.exitCode !== null) problems.push(`${name} exited with ${d.child.exitCode} at ${t} s`);
      }
      if (problems.length) break;
      // The three at once: under the soak's load each `tun-driver status` process takes seconds to start, and one
      // after the other they stretched a 5 s sample to 11 s (three samples in 30 s).
      const [o1, o2, r] = await Promise.all([status(1, 'flannel0'), status(2, 'flannel0'), status(1, 'tun19')]);
      const bytes = o1.peers.reduce((n: number, p: any) => n + p.txBytes, 0);
      const mbps = ((bytes - lastBytes) * 8) / ((Date.now() - lastAt) / 1000) / 1e6;
      lastBytes = bytes;
      lastAt = Date.now();
      const internal = (o1.counters.dropped['internal-error'] ?? 0) + (o2.counters.dropped['internal-error'] ?? 0) + (r.counters.dropped['internal-error'] ?? 0);
      const drops = o1.offloads.tunTxDropped + o2.offloads.tunTxDropped;
      log(`${String(t).padStart(5)}  ${rss['overlay-1'].toFixed(1).padStart(12)} ${rss['overlay-2'].toFixed(1).padStart(6)} ${rss.relay.toFixed(1).padStart(6)} ${mbps.toFixed(0).padStart(15)} ${String(drops).padStart(13)} ${`${r.counters.requests}/${r.counters.replies}`.padStart(23)} ${String(internal).padStart(16)}`);
      samples++;
      if (internal > 0) problems.push(`internal-error counted (${internal}) at ${t} s`);
      if (t >= warmupSeconds) {
        for (const [name, mb] of Object.entries(rss)) {
          baseline[name] ??= mb;
          if (mb > baseline[name] * 1.1) problems.push(`${name} RSS grew from ${baseline[name].toFixed(1)} to ${mb.toFixed(1)} MB after the warm-up (at ${t} s)`);
        }
      }
      if (problems.length) break;
      if (keyDir && !options.keepKey && !rotated && t >= seconds / 2) {
        // Half-way: host-2 takes a new key under load (SIGHUP), then the leases file names it.
        const next = generatePrivateKey();
        writeFileSync(join(keyDir, 'host-2.key'), next, { mode: 0o600 });
        cluster.daemons.get(2)!.child.kill('SIGHUP');
        await sleep(300);
        const k1 = readFileSync(join(keyDir, 'host-1.key'), 'utf8');
        cluster.writeLeases([{ ...leaseFor(1), publicKey: publicKeyOf(k1) }, { ...leaseFor(2), publicKey: publicKeyOf(next) }]);
        log(`${String(t).padStart(5)}  host-2's key rotated (SIGHUP, then the leases file)`);
        rotated = true;
      }
    }
    await new Promise((r) => (pinger.exitCode !== null ? r(null) : pinger.on('exit', r)));
    const p = parsePing(0, pingOutput);
    log(`ping at 100/s through the overlay: ${p.transmitted} sent, ${p.received} received (${(100 * (1 - p.received / Math.max(1, p.transmitted))).toFixed(2)} % lost)`);
    if (keyDir) {
      const handshakes = [1, 2].map((h) => cluster.daemons.get(h)!.stderr().split('\n').filter((l) => /handshake with .* complete/.test(l)).length);
      log(`WireGuard handshakes completed: host-1 ${handshakes[0]}, host-2 ${handshakes[1]} (a rekey every 120 s)`);
    }
  } catch (err) {
    problems.push((err as Error).message);
  } finally {
    for (const c of children) c.kill('SIGKILL');
    await cluster.down();
    if (keyDir) rmSync(keyDir, { recursive: true, force: true });
  }
  for (const p of [...new Set(problems)]) log(`soak: FAILED: ${p}`);
  if (!problems.length) log(`soak: passed (${samples} samples)`);
  return { ok: problems.length === 0, problems, samples };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { minutes: { type: 'string', default: '10' }, 'sample-seconds': { type: 'string', default: '10' }, sealed: { type: 'boolean', default: false }, 'keep-key': { type: 'boolean', default: false } } });
  const minutes = Number(values.minutes);
  const sampleSeconds = Number(values['sample-seconds']);
  if (!(minutes > 0 && minutes <= 120 && sampleSeconds >= 1 && sampleSeconds <= 60)) {
    console.error('soak: --minutes must be in (0, 120] and --sample-seconds in [1, 60]');
    process.exit(2);
  }
  if (process.getuid?.() !== 0) {
    console.error('soak: needs root (it builds a tdlab- lab)');
    process.exit(2);
  }
  soak(minutes, sampleSeconds, console.log, { sealed: values.sealed, keepKey: values['keep-key'] }).then((r) => { process.exitCode = r.ok ? 0 : 1; });
}
