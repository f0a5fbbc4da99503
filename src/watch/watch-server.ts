// The HTTP side of `lab watch`: samples the lab once a second into a
// ten-minute history and serves the page (/), the latest snapshot
// (/cluster.json), the history (/history.json?since=T), the chart library,
// and POST /probe. Loopback only. A POST must carry a JSON content type
// and a Host header naming this server, so a web page elsewhere cannot
// make the browser start probes (DNS rebinding, cross-site forms).
import { createServer, IncomingMessage, Server } from 'node:http';
import { TunDriverError } from '../errors.js';
import { parseIPv4 } from '../packet/addr.js';
import { serveChartAsset } from './chart-assets.js';
import { ClusterSnapshot, snapshotSeries } from './cluster-snapshot.js';
import type { PathReport } from './path-probe.js';
import { SeriesHistory } from './series-history.js';
import { WATCH_PAGE } from './watch-page.js';

/** Where the page's data comes from: a lab (LabReader + probePath), or a synthetic feed in tests. */
export interface WatchSource {
  read(): Promise<ClusterSnapshot>;
  probe(from: string, to: string): Promise<PathReport>;
}

export interface WatchListen {
  host: string;
  port: number;
}

/** Parses --listen HOST:PORT; the host must be a loopback address (the page can start probes). */
export function parseWatchListen(text: string): WatchListen {
  const m = /^(.+):(\d{1,5})$/.exec(text);
  const host = m?.[1] ?? '';
  const port = m ? Number(m[2]) : NaN;
  if (!m || parseIPv4(host) === undefined || !(port >= 1 && port <= 65535)) throw new TunDriverError('TUN_ERR_USAGE', `--listen ${text}: expected IPV4:PORT, e.g. 127.0.0.1:9180`);
  if (!host.startsWith('127.')) throw new TunDriverError('TUN_ERR_USAGE', `--listen ${text}: lab watch serves on loopback only (127.0.0.0/8): its page can send probes into the lab`);
  return { host, port };
}

function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
      if (body.length > limit) {
        reject(new Error('request body too large'));
        req.destroy();
      }
    });
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

export class WatchServer {
  readonly history = new SeriesHistory(600);
  private latest: ClusterSnapshot | { error: string } = { error: 'no sample yet' };
  private timer?: NodeJS.Timeout;
  private probing = false;
  private sampling = false;

  private constructor(private readonly server: Server, private readonly source: WatchSource, readonly url: string) {}

  /** Starts sampling every `intervalMs` and serving; resolves once listening and the first sample is in. */
  static async start(listen: WatchListen, source: WatchSource, intervalMs = 1000): Promise<WatchServer> {
    let self: WatchServer | undefined;
    const server = createServer((req, res) => void self!.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new TunDriverError('TUN_ERR_USAGE', `--listen ${listen.host}:${listen.port}: cannot listen (${err.message})`)));
      server.listen(listen.port, listen.host, () => resolve());
    });
    const port = (server.address() as { port: number }).port;
    self = new WatchServer(server, source, `http://${listen.host}:${port}/`);
    await self.sample();
    self.timer = setInterval(() => void self!.sample(), intervalMs);
    return self;
  }

  private async sample(): Promise<void> {
    if (this.sampling) return; // a slow read (etcd, a daemon that does not answer) skips a tick rather than piling up
    this.sampling = true;
    try {
      const snapshot = await this.source.read();
      this.latest = snapshot;
      this.history.record(snapshot.at, snapshotSeries(snapshot));
    } catch (err) {
      this.latest = { error: (err as Error).message };
    } finally {
      this.sampling = false;
    }
  }

  private async handle(req: IncomingMessage, res: import('node:http').ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const json = (code: number, body: unknown): void => void res.writeHead(code, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
    if (req.method === 'GET') {
      if (url.pathname === '/' || url.pathname === '/index.html') return void res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(WATCH_PAGE);
      if (url.pathname === '/cluster.json') return json('error' in this.latest ? 503 : 200, this.latest);
      if (url.pathname === '/history.json') return json(200, this.history.since(Number(url.searchParams.get('since')) || 0));
      if (serveChartAsset(url.pathname, res)) return;
    }
    if (req.method === 'POST' && url.pathname === '/probe') {
      // The page's own origin, by its address or as localhost: a page elsewhere (or a rebound DNS name) cannot start probes.
      const port = new URL(this.url).port;
      const ownHost = req.headers.host === new URL(this.url).host || req.headers.host === `localhost:${port}`;
      if (!ownHost || !/^application\/json\b/.test(req.headers['content-type'] ?? '')) return json(403, { error: 'probes are taken only from this page (JSON, to this host)' });
      if (this.probing) return json(409, { error: 'a probe is already running: wait for it' });
      this.probing = true;
      try {
        const { from, to } = JSON.parse(await readBody(req, 1024)) as { from?: unknown; to?: unknown };
        if (typeof from !== 'string' || typeof to !== 'string') return json(400, { error: 'give {"from": "<pod or relay host>", "to": "<IPv4 or IPv6 address>"}' });
        return json(200, await this.source.probe(from, to));
      } catch (err) {
        return json(err instanceof TunDriverError && err.code === 'TUN_ERR_USAGE' ? 400 : 500, { error: (err as Error).message });
      } finally {
        this.probing = false;
      }
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /, /cluster.json or /history.json\n');
  }

  /** Stops sampling and closes the server (open connections too). */
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
