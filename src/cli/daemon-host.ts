// DaemonHost: the one skeleton every long-running command (relay, overlay)
// runs on. The command checks its flags, then hands the host a set-up
// function that builds and starts its engine; the host does the rest the
// same way for both: undo on a failed start, the control socket (status,
// doctor's probe), --metrics, SIGUSR1 and exit counters, SIGINT/SIGTERM.
import { Logger, LogLine } from '../log.js';
import type { Probeable } from '../control/probe.js';
import { EngineStatus } from '../control/daemon-status.js';
import { DaemonMetrics } from '../metrics/metrics.js';
import { Listen } from '../metrics/server.js';
import { daemonStatus, runUntilSignal, serveStatus, Shutdown, UndoStack } from './daemon.js';
import { serveMetrics } from './metrics-option.js';

/** What a started engine offers its host. */
export interface HostedEngine {
  /** The packet engine itself: doctor's live probe arms it. */
  probeTarget: Probeable;
  /** What `tun-driver status`, doctor and the live page show. */
  status(): EngineStatus;
  /** The counters, on SIGUSR1 and at exit. */
  report(): LogLine;
  /** Said once the daemon is up (the line the tests and users wait for); it may log lines of its own first. */
  ready(): LogLine;
  /** Called once a second (for rates). */
  sample?(): void;
  /** With --metrics: what the metrics server serves. */
  metrics?: DaemonMetrics;
  /** SIGHUP: re-read what may change while running (the overlay's key). Must not throw. */
  reload?(): void;
}

export class DaemonHost {
  /** Set-up steps push how to undo themselves here; they run newest first on the way out. */
  readonly undo: UndoStack;
  /** How the daemon stops itself after an error (the same path as SIGTERM). */
  readonly shutdown = new Shutdown();

  constructor(readonly device: string, readonly log: Logger, private readonly metricsAt?: Listen) {
    this.undo = new UndoStack(log);
  }

  /**
   * Runs `setUp` (which builds and starts the engine, pushing its undo
   * steps), serves status and metrics, then waits for SIGINT/SIGTERM and
   * undoes everything. If anything before "ready" fails, what was set up
   * is undone, `onFailedStart` runs (e.g. to give back an etcd lease) and
   * the error is rethrown for the CLI to report.
   */
  async run(setUp: (host: DaemonHost) => Promise<HostedEngine>, onFailedStart?: () => Promise<void>): Promise<void> {
    let engine: HostedEngine;
    try {
      engine = await setUp(this);
      const status = daemonStatus(this.device, () => engine.status());
      await serveMetrics(this.metricsAt, engine.metrics, status, this.undo, this.log);
      await serveStatus(this.device, status, this.undo, engine.probeTarget, engine.sample && (() => engine.sample!()));
    } catch (err) {
      this.undo.undoAll();
      await onFailedStart?.();
      throw err;
    }
    const stopped = runUntilSignal(this.undo, (when) => {
      const line = engine.report();
      this.log.info(`${when}: ${line.text}`, line.fields);
    }, engine.reload && (() => engine.reload!()), this.shutdown);
    const ready = engine.ready();
    this.log.info(ready.text, ready.fields);
    await stopped;
  }
}
