// `tun-driver cni install`: what flannel's manifests do in an init
// container. Puts tun-driver-cni where runtimes look for plugins and writes
// the network's conflist. The plugin is copied whole (its compiled files,
// which import only Node's built-ins) into <bin-dir>/tun-driver-cni.d/, with
// a small launcher <bin-dir>/tun-driver-cni that runs it with the Node.js
// that ran the install: it keeps working when the package moves or goes.
// A manifest beside the conflist records every file written, with its
// hash, so a second install replaces only its own files and uninstall
// removes exactly those; a file of the same name that someone else wrote
// is never overwritten.
import { createHash } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, rmSync, rmdirSync, statSync, writeFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { TunDriverError } from '../errors.js';
import { CNI_NAME } from './net-conf.js';

export const DEFAULT_BIN_DIRS = ['/opt/cni/bin'];
/** Debian's containernetworking-plugins live here; runtimes built for Debian look here too. */
export const DEBIAN_BIN_DIR = '/usr/lib/cni';
export const DEFAULT_CONF_DIR = '/etc/cni/net.d';
export const DEFAULT_NETWORK_NAME = 'tun-driver';
const MANIFEST = '.tun-driver-cni-install.json';
const PLUGIN = 'tun-driver-cni';

export interface InstallOptions {
  binDirs: string[];
  confDir: string;
  name: string;
  subnetFile: string;
  /** The conflist's file name prefix: runtimes take the first conflist in lexical order. */
  priority: number;
  /** The compiled plugin's entry point (dist/src/cni/main.js). */
  pluginEntry: string;
  /** The Node.js the launcher runs. */
  nodePath: string;
}

interface Manifest {
  writtenBy: 'tun-driver cni install';
  files: Record<string, string>;
  dirs: string[];
}

const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

function usage(message: string): never {
  throw new TunDriverError('TUN_ERR_USAGE', message);
}

/** The plugin's compiled files: its entry and every module it imports, relative to their common root. */
export function pluginFiles(entry: string): { root: string; files: string[] } {
  const root = dirname(dirname(entry)); // dist/src
  const seen = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)) visit(join(dirname(file), m[1]));
    for (const m of text.matchAll(/(?:from|import)\s*\(?\s*['"]([^'".][^'"]*)['"]/g)) {
      if (!m[1].startsWith('node:')) throw new TunDriverError('TUN_ERR_USAGE', `${file} imports ${m[1]}: the plugin copy must need only Node's built-ins`);
    }
  };
  visit(entry);
  return { root, files: [...seen].map((f) => relative(root, f)).sort() };
}

/** The launcher: runs the copied plugin with the recorded Node.js (or the one on PATH), and says where it looked when something is gone. */
export function launcherScript(nodePath: string, pluginDir: string): string {
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  return [
    '#!/bin/sh',
    '# tun-driver-cni: written by tun-driver cni install; removed by tun-driver cni uninstall.',
    `node=${q(nodePath)}`,
    `plugin=${q(join(pluginDir, 'cni', 'main.js'))}`,
    '[ -x "$node" ] || node=$(command -v node) || node=',
    'if [ -z "$node" ] || [ ! -f "$plugin" ]; then',
    `  printf '{"cniVersion":"1.0.0","code":999,"msg":"tun-driver-cni cannot run","details":"looked for Node.js at %s and on PATH, and for the plugin at %s: run tun-driver cni install again"}\\n' ${q(nodePath)} "$plugin"`,
    '  exit 1',
    'fi',
    'exec "$node" "$plugin" "$@"',
    '',
  ].join('\n');
}

/** The network's conflist, as flannel's: the plugin (delegating to bridge + host-local), then portmap for -p. */
export function conflist(name: string, subnetFile: string): string {
  return JSON.stringify({
    name,
    cniVersion: '1.0.0',
    plugins: [
      { type: PLUGIN, subnetFile, delegate: { hairpinMode: true, isDefaultGateway: true } },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  }, null, 2) + '\n';
}

function readManifest(confDir: string): Manifest | undefined {
  const path = join(confDir, MANIFEST);
  if (!existsSync(path)) return undefined;
  try {
    const m = JSON.parse(readFileSync(path, 'utf8')) as Manifest;
    if (m.writtenBy === 'tun-driver cni install' && m.files && Array.isArray(m.dirs)) return m;
  } catch {
    // reported below
  }
  return usage(`${path} is not a manifest tun-driver wrote: remove it by hand if nothing of tun-driver-cni is installed`);
}

/** A directory we may write into: existing and writable, or creatable under one that is. */
function checkWritable(dir: string, flag: string): void {
  let d = dir;
  while (!existsSync(d)) d = dirname(d);
  if (!statSync(d).isDirectory()) usage(`${flag} ${dir}: ${d} is not a directory`);
  try {
    accessSync(d, constants.W_OK);
  } catch {
    usage(`${flag} ${dir} is not writable: run as root, or give a directory you may write`);
  }
}

/**
 * Installs; returns the paths written. Checks everything before writing
 * anything: a bad name, a directory not writable, or a file of the same
 * name that this install did not write is one line (exit 2), nothing written.
 */
export function cniInstall(o: InstallOptions): string[] {
  if (!CNI_NAME.test(o.name)) usage(`--name ${o.name}: a CNI network name is letters, digits, '_', '.' and '-', starting with a letter or digit`);
  if (o.binDirs.length === 0) usage('give at least one --bin-dir');
  for (const d of o.binDirs) checkWritable(d, '--bin-dir');
  checkWritable(o.confDir, '--conf-dir');
  const old = readManifest(o.confDir);
  const { root, files } = pluginFiles(o.pluginEntry);
  const writes = new Map<string, string | Buffer>();
  for (const bin of o.binDirs) {
    const pluginDir = join(bin, `${PLUGIN}.d`);
    writes.set(join(bin, PLUGIN), launcherScript(o.nodePath, pluginDir));
    writes.set(join(pluginDir, 'package.json'), '{"type": "module"}\n');
    for (const f of files) writes.set(join(pluginDir, f), readFileSync(join(root, f)));
  }
  const conf = join(o.confDir, `${String(o.priority).padStart(2, '0')}-tun-driver.conflist`);
  writes.set(conf, conflist(o.name, o.subnetFile));
  // Never over someone else's file: a path that exists must be one this install wrote, unchanged since.
  for (const path of writes.keys()) {
    if (!existsSync(path)) continue;
    const ours = old?.files[path];
    if (ours === undefined || ours !== sha256(readFileSync(path))) usage(`${path} exists and tun-driver did not write it: remove or rename it, or install into another directory`);
  }
  const dirs = new Set<string>(old?.dirs ?? []);
  for (const [path, data] of writes) {
    let d = dirname(path);
    const made: string[] = [];
    while (!existsSync(d)) {
      made.push(d);
      d = dirname(d);
    }
    mkdirSync(dirname(path), { recursive: true });
    for (const m of made) dirs.add(m);
    writeFileSync(path, data, { mode: path.endsWith(`/${PLUGIN}`) ? 0o755 : 0o644 });
  }
  // What an earlier install wrote and this one did not (another --bin-dir) goes.
  for (const path of Object.keys(old?.files ?? {})) if (!writes.has(path) && existsSync(path) && old!.files[path] === sha256(readFileSync(path))) rmSync(path);
  const manifest: Manifest = { writtenBy: 'tun-driver cni install', files: Object.fromEntries([...writes].map(([p, d]) => [p, sha256(d)])), dirs: [...dirs] };
  writeFileSync(join(o.confDir, MANIFEST), JSON.stringify(manifest, null, 2) + '\n');
  return [...writes.keys()];
}

/** Removes exactly what the last install wrote (a file changed since is left, and named); returns what was removed. */
export function cniUninstall(confDir: string): { removed: string[]; kept: string[] } {
  const m = readManifest(confDir);
  if (!m) usage(`nothing to uninstall: no ${MANIFEST} in ${confDir} (give the --conf-dir of the install)`);
  const removed: string[] = [];
  const kept: string[] = [];
  for (const [path, hash] of Object.entries(m.files)) {
    if (!existsSync(path)) continue;
    if (sha256(readFileSync(path)) !== hash) {
      kept.push(path);
      continue;
    }
    rmSync(path);
    removed.push(path);
  }
  // Directories the install made, deepest first, if nothing else is in them.
  for (const d of [...m.dirs].sort((a, b) => b.length - a.length)) {
    if (existsSync(d) && readdirSync(d).length === 0) rmdirSync(d);
  }
  rmSync(join(confDir, MANIFEST));
  return { removed, kept };
}
