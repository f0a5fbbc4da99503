// `tun-driver cni install|uninstall`: flannel's install step for the CNI
// plugin (src/cni/install.ts).
import { Command } from 'commander';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DEFAULT_SUBNET_FILE } from '../subnet/etcd/subnet-env.js';
import { cniInstall, cniUninstall, DEBIAN_BIN_DIR, DEFAULT_BIN_DIRS, DEFAULT_CONF_DIR, DEFAULT_NETWORK_NAME } from '../cni/install.js';
import { intOption } from './output.js';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export function cniCommand(): Command {
  const cni = new Command('cni').description("install the tun-driver-cni plugin where container runtimes look, and the network's conflist (what flannel's init container does)");
  cni
    .command('install')
    .description('copy tun-driver-cni (self-contained: a launcher and the plugin\'s files) into the plugin directories and write NN-tun-driver.conflist (tun-driver-cni delegating to bridge + host-local, then portmap)')
    .option('--bin-dir <dir>', `a plugin directory (repeat for more; default ${DEFAULT_BIN_DIRS.join(', ')}, and ${DEBIAN_BIN_DIR} where it exists)`, collect)
    .option('--conf-dir <dir>', 'where runtimes read network configurations', DEFAULT_CONF_DIR)
    .option('--name <net>', 'the network name runtimes know it by (podman --network NAME)', DEFAULT_NETWORK_NAME)
    .option('--subnet-file <path>', 'the subnet.env the node\'s tun-driver overlay writes (two lab nodes on one filesystem each need their own)', DEFAULT_SUBNET_FILE)
    .option('--priority <n>', 'the conflist file\'s number: runtimes pick the first conflist in name order', '10')
    .addHelpText('after', `
Examples:
  tun-driver cni install
  tun-driver cni install --bin-dir /opt/cni/bin --conf-dir /etc/cni/net.d --name pods --subnet-file /run/flannel/subnet.env
  tun-driver cni uninstall

A file of the same name that tun-driver did not write is never
overwritten (one line, exit 2); a second install replaces its own files;
uninstall removes exactly what install wrote (docs/kubernetes.md).`)
    .action((opts: { binDir?: string[]; confDir: string; name: string; subnetFile: string; priority: string }) => {
      const binDirs = opts.binDir ?? [...DEFAULT_BIN_DIRS, ...(existsSync(DEBIAN_BIN_DIR) ? [DEBIAN_BIN_DIR] : [])];
      const written = cniInstall({
        binDirs, confDir: opts.confDir, name: opts.name, subnetFile: opts.subnetFile, priority: intOption('--priority', opts.priority, 0, 99),
        pluginEntry: fileURLToPath(new URL('../cni/main.js', import.meta.url)), nodePath: process.execPath,
      });
      const conf = written.find((p) => p.endsWith('.conflist'));
      process.stdout.write(`installed tun-driver-cni in ${binDirs.join(', ')} and ${conf} (network ${opts.name}, ${written.length} files)\n`);
    });
  cni
    .command('uninstall')
    .description('remove exactly what cni install wrote (a file changed since is left in place and named)')
    .option('--conf-dir <dir>', 'the --conf-dir of the install', DEFAULT_CONF_DIR)
    .addHelpText('after', '\nExamples:\n  tun-driver cni uninstall\n  tun-driver cni uninstall --conf-dir /tmp/net.d\n')
    .action((opts: { confDir: string }) => {
      const { removed, kept } = cniUninstall(opts.confDir);
      process.stdout.write(`removed ${removed.length} files${kept.length ? `; left ${kept.length} changed since the install: ${kept.join(', ')}` : ''}\n`);
    });
  return cni;
}
