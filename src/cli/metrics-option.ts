// --metrics HOST:PORT for the daemons: Prometheus metrics and the live page.
import { Command } from 'commander';
import { Logger } from '../log.js';
import { createMetrics, DaemonMetrics, MetricsSource } from '../metrics/metrics.js';
import { Listen, parseListen, startMetricsServer } from '../metrics/server.js';
import { UndoStack } from './daemon.js';

export function addMetricsOption(cmd: Command): Command {
  return cmd.option('--metrics <host:port>', 'serve Prometheus metrics at http://HOST:PORT/metrics and a live page at /');
}

/** Checks --metrics before anything changes. */
export function metricsListen(flag: string | undefined): Listen | undefined {
  return flag === undefined ? undefined : parseListen(flag);
}

/** The daemon's metrics (their batch observer goes into the engine), or undefined without --metrics. */
export function daemonMetrics(listen: Listen | undefined, source: MetricsSource): DaemonMetrics | undefined {
  return listen ? createMetrics(source) : undefined;
}

export async function serveMetrics(listen: Listen | undefined, metrics: DaemonMetrics | undefined, status: () => unknown, undo: UndoStack, log: Logger): Promise<void> {
  if (!listen || !metrics) return;
  const server = await startMetricsServer(listen, metrics.registry, status);
  undo.push(() => server.close());
  log.info(`metrics at http://${listen.host}:${listen.port}/metrics, live page at http://${listen.host}:${listen.port}/`);
}
