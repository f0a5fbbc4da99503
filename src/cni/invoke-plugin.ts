// Runs another CNI plugin as the spec says a delegating plugin must: found
// by name in CNI_PATH, the same CNI_* environment with CNI_COMMAND set, the
// configuration on stdin, the result (or the spec's error) on stdout.
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { CNI_CODE, CniError } from './cni-error.js';
import { CNI_NAME, isObject, JsonObject } from './net-conf.js';

export type CniCommand = 'ADD' | 'DEL' | 'CHECK';

/** A delegate that runs longer than this is killed (runtimes give a pod about a minute). */
const DELEGATE_TIMEOUT_MS = 55_000;

/** The first executable file called `type` in CNI_PATH (colon-separated). */
export function findPlugin(type: string, cniPath: string): string {
  if (!CNI_NAME.test(type)) throw new CniError(CNI_CODE.INVALID_CONFIG, `delegate type "${type}" is not a plugin name`);
  const dirs = cniPath.split(':').filter(Boolean);
  for (const dir of dirs) {
    const candidate = join(dir, type);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  throw new CniError(CNI_CODE.INVALID_ENV, `no CNI plugin "${type}" in CNI_PATH (${dirs.join(', ') || 'empty'}); on Debian: apt-get install containernetworking-plugins (CNI_PATH=/usr/lib/cni)`);
}

/**
 * Runs plugin `path` for `command` with `conf` on stdin; resolves with its
 * stdout (the result JSON for ADD, usually empty otherwise). A plugin that
 * fails rejects with a CniError carrying its own code and message.
 */
export function invokePlugin(path: string, command: CniCommand, conf: JsonObject, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(path, [], { env: { ...env, CNI_COMMAND: command }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), DELEGATE_TIMEOUT_MS);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new CniError(CNI_CODE.DELEGATE_FAILED, `cannot run ${path}: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) return resolve(stdout);
      const name = path.split('/').pop();
      let reported: unknown;
      try {
        reported = JSON.parse(stdout);
      } catch {
        // not the spec's error object
      }
      if (isObject(reported) && typeof reported.code === 'number' && typeof reported.msg === 'string') {
        return reject(new CniError(reported.code, `${name} ${command}: ${reported.msg}`, typeof reported.details === 'string' ? reported.details : ''));
      }
      const why = signal ? `was killed by ${signal}${signal === 'SIGKILL' ? ` (no answer within ${DELEGATE_TIMEOUT_MS / 1000} s)` : ''}` : `exited with ${code}`;
      reject(new CniError(CNI_CODE.DELEGATE_FAILED, `${name} ${command} ${why}`, (stderr || stdout).trim().slice(0, 2000)));
    });
    child.stdin.on('error', () => undefined); // a plugin that exits without reading stdin
    child.stdin.end(JSON.stringify(conf));
  });
}
