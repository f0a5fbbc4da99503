// The delegate configuration each container's ADD used, kept in dataDir so
// that DEL and CHECK replay exactly it, even after subnet.env has changed.
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CNI_CODE, CniError } from './cni-error.js';
import { isObject, JsonObject } from './net-conf.js';

function entryPath(dataDir: string, containerId: string, ifname: string): string {
  return join(dataDir, `${containerId}.${ifname}.json`);
}

function ioError(what: string, err: unknown): CniError {
  return new CniError(CNI_CODE.IO_FAILURE, `${what}: ${(err as Error).message}`);
}

/** Written whole or not at all (write to a temporary name, then rename). */
export function saveDelegate(dataDir: string, containerId: string, ifname: string, conf: JsonObject): void {
  const path = entryPath(dataDir, containerId, ifname);
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    writeFileSync(`${path}.tmp`, JSON.stringify(conf), { mode: 0o600 });
    renameSync(`${path}.tmp`, path);
  } catch (err) {
    throw ioError(`cannot save the delegate configuration in ${dataDir}`, err);
  }
}

/** The stored configuration, or undefined when this container was never added (or already deleted). */
export function loadDelegate(dataDir: string, containerId: string, ifname: string): JsonObject | undefined {
  const path = entryPath(dataDir, containerId, ifname);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw ioError(`cannot read ${path}`, err);
  }
  try {
    const conf: unknown = JSON.parse(text);
    if (isObject(conf)) return conf;
  } catch {
    // fall through: a damaged entry
  }
  throw new CniError(CNI_CODE.IO_FAILURE, `${path} is damaged (not a JSON object): remove it to let DEL succeed`);
}

export function removeDelegate(dataDir: string, containerId: string, ifname: string): void {
  try {
    rmSync(entryPath(dataDir, containerId, ifname), { force: true });
  } catch (err) {
    throw ioError(`cannot remove the delegate configuration from ${dataDir}`, err);
  }
}
