// The HTTP side of --metrics: GET /metrics for Prometheus, / for the live
// page, /status.json for what the page shows (the same as tun-driver status),
// /uplot.js and /uplot.css for its charts.
import { createServer, Server } from 'node:http';
import { Registry } from 'prom-client';
import { TunDriverError } from '../errors.js';
import { parseIPv4 } from '../packet/addr.js';
import { LIVE_PAGE } from './page.js';
import { serveChartAsset } from '../watch/chart-assets.js';

export interface Listen {
  host: string;
  port: number;
}

/** Parses --metrics HOST:PORT; throws a usage error that shows the form. */
export function parseListen(text: string): Listen {
  const m = /^(.+):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || parseIPv4(m[1]) === undefined || !(port >= 1 && port <= 65535)) {
    throw new TunDriverError('TUN_ERR_USAGE', `--metrics ${text}: expected IPV4:PORT, e.g. 127.0.0.1:9101`);
  }
  return { host: m[1], port };
}

export async function startMetricsServer(listen: Listen, registry: Registry, status: () => unknown): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method === 'GET' && (req.url === '/' || req.url === '/index.html')) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(LIVE_PAGE);
      return;
    }
    if (req.method === 'GET' && req.url === '/status.json') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(status()));
      return;
    }
    if (req.method === 'GET' && serveChartAsset(req.url ?? '', res)) return;
    if (req.method === 'GET' && req.url === '/metrics') {
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (err) => res.writeHead(500).end(String(err)),
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try / or /metrics\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new TunDriverError('TUN_ERR_USAGE', `--metrics ${listen.host}:${listen.port}: cannot listen (${(err as Error).message})`)));
    server.listen(listen.port, listen.host, () => resolve());
  });
  server.unref();
  return server;
}
