// Starts and stops tun-driver daemons (relay, overlay) inside lab nodes
// for integration tests, benchmarks and the demo, and parses ping's output.
import { ChildProcess } from 'node:child_process';
import { Lab } from '../src/lab/lab.js';

const CLI = new URL('../src/cli/main.js', import.meta.url).pathname;

export interface DaemonRun {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Sends `signal` and resolves with the exit code once the relay is gone. */
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
}

export type RelayRun = DaemonRun;

/** Starts the relay in `node`; resolves once it says it is relaying (or rejects with its stderr). */
export function startRelay(lab: Lab, node: string, args: string[], timeoutMs = 10_000): Promise<RelayRun> {
  return startDaemon(lab, node, ['relay', ...args], /relaying ICMP/, timeoutMs);
}

/**
 * Starts `tun-driver ARGS` in `node`; resolves once stderr matches `ready`.
 * TD_DAEMON_NODE_FLAGS (space-separated) goes to node before the script:
 * V8 flags such as --trace-deopt that NODE_OPTIONS does not allow, for
 * profiling a daemon in a lab.
 */
export function startDaemon(lab: Lab, node: string, args: string[], ready: RegExp, timeoutMs = 10_000): Promise<DaemonRun> {
  const nodeFlags = process.env.TD_DAEMON_NODE_FLAGS?.split(' ').filter(Boolean) ?? [];
  const child = lab.spawn(node, process.execPath, [...nodeFlags, CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const run: DaemonRun = {
    child,
    stdout: () => out,
    stderr: () => err,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 10_000))]);
      if (code === 'timeout') {
        child.kill('SIGKILL');
        throw new Error(`${args[0]} did not stop on ${signal}; stderr: ${err}`);
      }
      return code;
    },
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${args[0]} did not start within ${timeoutMs} ms; stderr: ${err}`));
    }, timeoutMs);
    child.stderr!.on('data', (d) => {
      err += d;
      if (ready.test(err)) {
        clearTimeout(timer);
        resolve(run);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(Object.assign(new Error(`${args[0]} exited with ${code} before it started: ${err.trim()}`), { exitCode: code, stderr: err }));
    });
  });
}

export interface PingResult {
  code: number | null;
  transmitted: number;
  received: number;
  duplicates: number;
  errors: number;
  /** Lines "N bytes from ..." by size. */
  replySizes: number[];
  seqs: number[];
  rttsMs: number[];
  output: string;
}

export function parsePing(code: number | null, output: string): PingResult {
  const stats = /(\d+) packets transmitted, (\d+) received(?:, \+(\d+) duplicates)?(?:, \+(\d+) errors)?/.exec(output);
  const replies = [...output.matchAll(/^(\d+) bytes from .*icmp_seq=(\d+)(?:.*time=([\d.]+) ms)?/gm)];
  return {
    code,
    transmitted: Number(stats?.[1] ?? 0),
    received: Number(stats?.[2] ?? 0),
    duplicates: Math.max(Number(stats?.[3] ?? 0), output.match(/\(DUP!\)/g)?.length ?? 0),
    errors: Number(stats?.[4] ?? 0),
    replySizes: replies.map((m) => Number(m[1])),
    seqs: replies.map((m) => Number(m[2])),
    rttsMs: replies.filter((m) => m[3] !== undefined).map((m) => Number(m[3])),
    output,
  };
}

export async function ping(lab: Lab, node: string, args: string[], timeoutMs = 30_000): Promise<PingResult> {
  const r = await lab.run(node, 'ping', args, timeoutMs);
  return parsePing(r.code, r.stdout + r.stderr);
}
