// The daemon side of `tun-driver status` (and doctor's live probe): a Unix
// socket (mode 0600, so only root — or whoever runs the daemon — may ask)
// that answers one command line ("status", "probe 4242", "probe-result")
// with one JSON object.
import { chmodSync, rmSync } from 'node:fs';
import { createServer, Server } from 'node:net';

export class ControlServer {
  private constructor(private readonly server: Server, readonly path: string) {}

  static async listen(path: string, commands: Record<string, (arg: string) => unknown>): Promise<ControlServer> {
    rmSync(path, { force: true }); // a stale socket of a daemon that was SIGKILLed
    const server = createServer((conn) => {
      let input = '';
      conn.setEncoding('utf8');
      conn.setTimeout(2000, () => conn.destroy());
      conn.on('error', () => conn.destroy());
      conn.on('data', (chunk) => {
        input += chunk;
        if (input.length > 256) return void conn.destroy();
        if (!input.includes('\n')) return;
        const [command, ...rest] = input.trim().split(/\s+/);
        const arg = rest.join(' ');
        const handler = Object.hasOwn(commands, command) ? commands[command] : undefined;
        let answer: unknown;
        try {
          answer = handler ? handler(arg) : { error: `unknown command "${command}" (try: ${Object.keys(commands).join(', ')})` };
        } catch (err) {
          answer = { error: (err as Error).message };
        }
        conn.end(JSON.stringify(answer) + '\n');
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => resolve());
    });
    chmodSync(path, 0o600);
    server.unref(); // the daemon lives as long as its packet I/O, not its control socket
    return new ControlServer(server, path);
  }

  close(): void {
    this.server.close();
    rmSync(this.path, { force: true });
  }
}

/** Asks one control socket for its status. */
export function queryStatus(path: string, timeoutMs = 2000): Promise<unknown> {
  return controlRequest(path, 'status', timeoutMs);
}

/** Sends one command line to a control socket; resolves with its JSON answer. */
export function controlRequest(path: string, line: string, timeoutMs = 2000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    import('node:net').then(({ createConnection }) => {
      const conn = createConnection(path);
      let data = '';
      conn.setEncoding('utf8');
      conn.setTimeout(timeoutMs, () => {
        conn.destroy();
        reject(new Error(`${path}: no answer within ${timeoutMs} ms`));
      });
      conn.on('connect', () => conn.write(line + '\n'));
      conn.on('data', (d) => (data += d));
      conn.on('error', (err) => reject(err));
      conn.on('end', () => {
        try {
          resolve(JSON.parse(data));
        } catch {
          reject(new Error(`${path}: not a status answer: ${data.slice(0, 100)}`));
        }
      });
    }, reject);
  });
}
