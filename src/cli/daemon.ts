// What every long-running command (relay, overlay) does around its work:
// undo its set-up in reverse order on the way out, and run until SIGINT or
// SIGTERM, printing its counters on SIGUSR1 and at exit.
import { Logger } from '../log.js';
import { DaemonInfo, DaemonStatus, EngineStatus } from '../control/daemon-status.js';
import { ControlServer } from '../control/control-server.js';
import { controlSocketPath } from '../control/paths.js';
import { Probe, Probeable } from '../control/probe.js';

/** Set-up steps register how to undo themselves; undoAll() runs them newest first, once. */
export class UndoStack {
  private readonly steps: Array<() => void> = [];

  constructor(private readonly log: Logger) {}

  push(step: () => void): void {
    this.steps.push(step);
  }

  undoAll(): void {
    while (this.steps.length) {
      const step = this.steps.pop()!;
      try {
        step();
      } catch (err) {
        this.log.error(`cleanup step failed: ${(err as Error).message}`);
      }
    }
  }
}

/**
 * Installs the daemon's signal handlers at once and resolves on SIGINT or
 * SIGTERM, after report('stopping on SIG...') and undo.undoAll(). Call it
 * *before* announcing readiness: Node 20 opens its debugger on a SIGUSR1
 * that finds no handler, so there must be no window where one is missing.
 */
export function runUntilSignal(undo: UndoStack, report: (when: string) => void, reload?: () => void, shutdown?: Shutdown): Promise<void> {
  return new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (why: string): void => {
      // The handlers stay installed to the end: a second SIGINT/SIGTERM
      // (Ctrl-C twice, a supervisor repeating itself) must not kill the
      // process half-way through undoing its set-up.
      if (stopping) return;
      stopping = true;
      report(why);
      undo.undoAll();
      resolve();
    };
    shutdown?.attach(stop);
    process.on('SIGINT', () => stop('stopping on SIGINT')).on('SIGTERM', () => stop('stopping on SIGTERM')).on('SIGUSR1', () => {
      if (!stopping) report('counters');
    });
    if (reload) process.on('SIGHUP', () => {
      if (!stopping) reload();
    });
  });
}

/** A --trace writer: one line per packet on stdout, stamped with the time of day. */
export function traceWriter(enabled: boolean | undefined): ((line: string) => void) | undefined {
  return enabled ? (line: string) => process.stdout.write(`${new Date().toISOString().slice(11, 23)} ${line}\n`) : undefined;
}

/**
 * What a daemon does when its TUN or socket fails for good: say so, then
 * stop through the same path as SIGTERM (counters, undo), exiting 1.
 */
export function stopOnIoError(shutdown: Shutdown, log: Logger, what: string): (err: Error) => void {
  return (err) => shutdown.fail(log, `${what} failed: ${err.message}; stopping`);
}

/**
 * A daemon's way to stop itself: the same path as SIGTERM (report, undo),
 * taken directly, not by signalling its own process. One per daemon
 * (DaemonHost owns it); a request before the path exists waits for it.
 */
export class Shutdown {
  private stop?: (why: string) => void;
  private pending?: string;

  /** The daemon's stop path (runUntilSignal gives it). */
  attach(stop: (why: string) => void): void {
    this.stop = stop;
    if (this.pending !== undefined) stop(this.pending);
  }

  /** Stops, saying why. */
  request(why: string): void {
    if (this.stop) this.stop(why);
    else this.pending ??= why;
  }

  /** Logs `message`, then stops, exiting 1. */
  fail(log: Logger, message: string): void {
    log.error(message);
    process.exitCode = 1;
    this.request(`stopping after an error (${message})`);
  }
}

/** A daemon's status with who and since when it runs: what `status` and the live page show. */
export function daemonStatus<T extends EngineStatus>(device: string, status: () => T): () => T & DaemonInfo {
  const startedAt = new Date();
  return () => ({
    pid: process.pid,
    device,
    startedAt: startedAt.toISOString(),
    uptimeSeconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
    ...status(),
  });
}

/**
 * Serves `tun-driver status` and doctor's live probe for this daemon on
 * its control socket, and calls `sample` once a second (for rates).
 * Registered for undo.
 */
export async function serveStatus(device: string, status: () => DaemonStatus, undo: UndoStack, engine: Probeable, sample?: () => void): Promise<void> {
  const server = await ControlServer.listen(controlSocketPath(device), {
    status,
    probe: (arg) => {
      // "probe ID" arms the near end (doctor, the pinger's node); "probe ID far" the destination's node.
      const m = /^(\d{1,5})(?: (far))?$/.exec(arg);
      const id = Number(m?.[1]);
      if (!m || id > 0xffff) throw new Error('probe takes an ICMP identifier, 0-65535, and optionally "far"');
      engine.probe = new Probe(id, m[2] === 'far');
      return { armed: id, far: m[2] === 'far' };
    },
    'probe-result': () => {
      const result = engine.probe?.toJSON() ?? { error: 'no probe armed' };
      engine.probe = undefined;
      return result;
    },
  });
  undo.push(() => server.close());
  if (sample) {
    const timer = setInterval(sample, 1000);
    timer.unref();
    undo.push(() => clearInterval(timer));
  }
}
