// `tun-driver lab up|down|ls|exec`: the namespace lab from the command line.
import { Command } from 'commander';
import { fileURLToPath } from 'node:url';
import { Lab } from '../lab/lab.js';
import { labEtcdClientFlags, labEtcdEndpoints, labSubnetFile } from '../lab/lab-etcd.js';
import { addPod, checkPod, deletePod, podsOf } from '../lab/lab-pods.js';
import { CniError } from '../cni/cni-error.js';
import { DEFAULT_ETCD_PREFIX } from '../subnet/etcd/subnet-keys.js';
import { BACKEND_TYPES, BackendName } from '../subnet/etcd/network-config.js';
import { PRESET_NAMES, presetTopology } from '../lab/presets.js';
import { LAB_NAME, loadTopologyFile } from '../lab/topology.js';
import { TunDriverError } from '../errors.js';
import { spawnInNetns } from '../netns/processes.js';
import { intOption, printJson, usageError } from './output.js';
import { LabReader } from '../watch/lab-reader.js';
import { probePath } from '../watch/path-probe.js';
import { parseWatchListen, WatchServer } from '../watch/watch-server.js';

const MAIN_SCRIPT = fileURLToPath(new URL('./main.js', import.meta.url));

function describeLab(lab: Lab): string {
  const rows = lab.state.nodes.map((n) => `  ${n.name.padEnd(16)} ${n.kind.padEnd(7)} ${n.netns.padEnd(34)} ${n.addresses.join(' ') || (n.kind === 'pod' ? '(no network yet: lab pod add)' : '')}`);
  return [`lab ${lab.name} is up:`, `  ${'node'.padEnd(16)} ${'kind'.padEnd(7)} ${'namespace'.padEnd(34)} addresses`, ...rows].join('\n');
}

export function labCommands(): Command {
  const lab = new Command('lab').description('build hosts, switches, routers and pods out of tdlab- network namespaces').enablePositionalOptions();

  lab
    .command('up')
    .description('build a lab from a preset or a topology file (JSON)')
    .argument('[file]', 'topology file (see presets/ for examples)')
    .option('-p, --preset <name>', `built-in topology: ${PRESET_NAMES.join(', ')}`)
    .option('--name <lab>', "lab name (default: the preset's or file's)")
    .option('--hosts <n>', 'cluster preset: number of hosts (1-20)', '3')
    .option('--pods <m>', 'cluster preset: pods per host (1-64)', '2')
    .option('--etcd', 'cluster preset: also run etcd (a member on each of the first 3 hosts) with the network config stored')
    .option('--etcd-tls', 'with --etcd: TLS for clients and peers with certificates from a CA of the lab\'s own, client certificates required, and RBAC (nodes may write only under the network prefix)')
    .option('--internet', 'cluster preset: also a host outside the cluster ("internet", 198.51.100.129) behind a router')
    .option('--backend <type>', 'cluster preset: the backend its nodes run, udp (default), wireguard, vxlan or host-gw: with --etcd, the network config\'s Backend.Type; without, the --backend the printed node command takes')
    .option('--ipv6', 'with --etcd: a dual-stack network config (EnableIPv6, IPv6Network fd00:10:244::/48): pods get an IPv6 address too')
    .option('--ipv6-only', 'with --etcd: an IPv6-only network config (EnableIPv4 false, IPv6Network fd00:10:244::/48): pods get an IPv6 address only')
    .option('--json', 'print the lab as JSON')
    .addHelpText('after', '\nExamples:\n  tun-driver lab up --preset two-hosts\n  tun-driver lab up --preset cluster --hosts 3 --pods 2\n  tun-driver lab up --preset cluster --etcd --internet\n  tun-driver lab up --preset cluster --hosts 3 --etcd --etcd-tls\n  tun-driver lab up --preset cluster --hosts 3 --etcd --backend vxlan\n  tun-driver lab up --preset cluster --etcd --ipv6\n  tun-driver lab up --preset cluster --etcd --ipv6-only\n  tun-driver lab up presets/routed.json\n')
    .action(async (file: string | undefined, opts: { preset?: string; name?: string; hosts: string; pods: string; etcd?: boolean; etcdTls?: boolean; internet?: boolean; ipv6?: boolean; ipv6Only?: boolean; json?: boolean; backend?: string }) => {
      if (file && opts.preset) throw usageError('give either a topology file or --preset, not both');
      if (!file && !opts.preset) throw usageError(`give a topology file or --preset NAME (${PRESET_NAMES.join(', ')}), e.g. lab up --preset two-hosts`);
      if (opts.name !== undefined) checkLabName(opts.name);
      let topology;
      if (file) {
        topology = loadTopologyFile(file);
        if (opts.name) topology = { ...topology, name: opts.name };
      } else {
        const hosts = intOption('--hosts', opts.hosts, 1, 20);
        const pods = intOption('--pods', opts.pods, 1, 64);
        if (opts.etcd && opts.preset !== 'cluster') throw usageError('--etcd goes with --preset cluster (in a topology file, add "etcd": {"members": [...]})');
        if (opts.etcdTls && !opts.etcd) throw usageError('--etcd-tls goes with --etcd (in a topology file, add "tls": true to "etcd")');
        if (opts.ipv6 && !opts.etcd) throw usageError('--ipv6 goes with --etcd (without etcd, give the overlay an IPv6 --network and --subnet; in a topology file, add "ipv6": true to "etcd")');
        if (opts.ipv6Only && !opts.etcd) throw usageError('--ipv6-only goes with --etcd (without etcd, give the overlay only an IPv6 --network and --subnet; in a topology file, add "ipv6": true, "ipv4": false to "etcd")');
        if (opts.ipv6Only && opts.ipv6) throw usageError('give --ipv6 (dual-stack) or --ipv6-only, not both');
        if (opts.backend !== undefined && !(BACKEND_TYPES as readonly string[]).includes(opts.backend)) throw usageError(`--backend ${opts.backend}: use ${BACKEND_TYPES.join(', ')}`);
        if (opts.backend !== undefined && opts.preset !== 'cluster') throw usageError('--backend goes with --preset cluster (in a topology file, add "backend": "vxlan")');
        const backend = opts.backend as BackendName | undefined;
        if (opts.internet && opts.preset !== 'cluster') throw usageError('--internet goes with --preset cluster (in a topology file, add a router and a host on a segment of their own)');
        topology = presetTopology(opts.preset ?? 'two-hosts', { hosts, pods, name: opts.name, etcd: opts.etcd, etcdTls: opts.etcdTls, internet: opts.internet, ipv6: opts.ipv6, ipv6Only: opts.ipv6Only, backend });
      }
      const built = await Lab.up(topology);
      if (opts.json) printJson(built.state);
      else process.stdout.write(`${describeLab(built)}\n${describeEtcd(built)}\ntry:  tun-driver lab exec ${built.state.nodes.find((n) => n.kind === 'host')!.name} -- ping -c 1 ${otherHostAddress(built)}\nend:  tun-driver lab down ${built.name}\n`);
    });

  lab.addCommand(podCommands());

  lab
    .command('down')
    .description('remove a lab (every tdlab- namespace, with its links and processes, when no name is given)')
    .argument('[name]', 'lab name')
    .addHelpText('after', '\nExamples:\n  tun-driver lab down two-hosts\n  tun-driver lab down          # everything tdlab-\n')
    .action(async (name: string | undefined) => {
      // An empty name (an unset shell variable) must never mean "every lab".
      if (name !== undefined) {
        checkLabName(name);
        const { labs, orphans } = Lab.list();
        if (!labs.some((l) => l.name === name) && !orphans.some((n) => n.startsWith(`tdlab-${name}-`))) {
          throw new TunDriverError('TUN_ERR_LAB', `no lab named "${name}" is up (see: tun-driver lab ls; a bare "lab down" removes every lab)`);
        }
      }
      const removed = await Lab.down(name);
      process.stdout.write(`removed ${removed.length} namespace${removed.length === 1 ? '' : 's'}${removed.length ? `: ${removed.join(' ')}` : ''}\n`);
    });

  lab
    .command('ls')
    .description('list labs that are up, and stray tdlab- namespaces')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) => {
      const { labs, orphans } = Lab.list();
      if (opts.json) return printJson({ labs, orphans });
      if (!labs.length && !orphans.length) return void process.stdout.write('no labs are up\n');
      for (const l of labs) process.stdout.write(`${l.name}: ${l.nodes.length} nodes (${l.present} present), up since ${l.createdAt}\n  ${l.nodes.map((n) => n.name).join(' ')}\n`);
      if (orphans.length) process.stdout.write(`stray namespaces (remove with: tun-driver lab down): ${orphans.join(' ')}\n`);
    });

  lab
    .command('exec')
    .description('run a command inside a lab node (like ip netns exec)')
    .argument('<node>', 'node name, e.g. host-1 or host-1-pod1')
    .argument('<command...>', 'the command and its arguments (after --)')
    .option('--lab <name>', 'which lab (needed only when several labs have that node); before or after NODE')
    .passThroughOptions()
    .addHelpText('after', '\nExamples:\n  tun-driver lab exec host-1 -- ping -c 1 198.51.100.2\n  tun-driver lab exec host-1 -- tun-driver tun show\n')
    .action(async (node: string, argv: string[], opts: { lab?: string }) => {
      // Options stop at NODE (pass-through), so `exec NODE --lab X -- CMD` arrives in argv.
      let labName = opts.lab;
      while (argv[0] === '--lab' || argv[0]?.startsWith('--lab=')) {
        if (argv[0] === '--lab') {
          if (argv.length < 2) throw usageError('lab exec: --lab needs a lab name');
          labName = argv[1];
          argv = argv.slice(2);
        } else {
          labName = argv[0].slice('--lab='.length);
          argv = argv.slice(1);
        }
      }
      if (labName !== undefined) checkLabName(labName);
      const command = argv[0] === '--' ? argv.slice(1) : argv;
      if (command.length === 0) throw usageError('lab exec: give a command to run, e.g. lab exec host-1 -- ping -c 1 198.51.100.2');
      const target = labName ? Lab.open(labName) : Lab.findByNode(node);
      const netns = target.ns(node);
      // `tun-driver` inside a node means this very installation.
      const [cmd, args] = command[0] === 'tun-driver' ? [process.execPath, [MAIN_SCRIPT, ...command.slice(1)]] : [command[0], command.slice(1)];
      const child = spawnInNetns(netns, cmd, args, { stdio: 'inherit' });
      const forward = (sig: NodeJS.Signals): void => void child.kill(sig);
      process.on('SIGINT', forward).on('SIGTERM', forward);
      const code = await new Promise<number>((resolve) => {
        child.on('error', (err) => {
          process.stderr.write(`tun-driver: cannot run ${command[0]}: ${err.message}\n`);
          resolve(127);
        });
        child.on('close', (c, signal) => resolve(c ?? (signal ? 128 + (signalNumber(signal) ?? 0) : 1)));
      });
      process.exitCode = code;
    });

  lab.addCommand(watchCommand());

  return lab;
}

/** `lab watch`: the live page of a whole lab, on loopback. */
function watchCommand(): Command {
  return new Command('watch')
    .description("serve one live page for a whole lab on loopback: the cluster map, rates over the last 10 minutes, a packet's path hop by hop (reads the lab; configures nothing)")
    .option('--lab <name>', 'which lab (default: the only one up)')
    .option('--listen <host:port>', 'where to serve the page (loopback only)', '127.0.0.1:9180')
    .addHelpText('after', '\nExamples:\n  tun-driver lab watch\n  tun-driver lab watch --lab cluster --listen 127.0.0.1:9180\n  then open http://127.0.0.1:9180/ (http://127.0.0.1:9180/?lang=zh for Chinese labels)\n\nData for scripts: /cluster.json (the map), /history.json (the rates).\n')
    .action(async (opts: { lab?: string; listen: string }) => {
      const listen = parseWatchListen(opts.listen);
      if (opts.lab !== undefined) checkLabName(opts.lab);
      const labs = Lab.list().labs.map((l) => l.name);
      const name = opts.lab ?? (labs.length === 1 ? labs[0] : undefined);
      if (!name) throw new TunDriverError('TUN_ERR_LAB', labs.length === 0 ? 'no lab is up (start one: tun-driver lab up --preset cluster)' : `labs ${labs.join(', ')} are up: say which with --lab NAME`);
      Lab.open(name); // a one-line error when there is no such lab
      const reader = new LabReader(name);
      const server = await WatchServer.start(listen, { read: () => reader.read(), probe: (from, to) => probePath(name, from, to) });
      process.stdout.write(`watching lab ${name} at ${server.url} (Chinese labels: ${server.url}?lang=zh); Ctrl-C to stop\n`);
      const signal = await new Promise<NodeJS.Signals>((resolve) => {
        process.once('SIGINT', () => resolve('SIGINT'));
        process.once('SIGTERM', () => resolve('SIGTERM'));
      });
      await server.close();
      process.stdout.write(`lab watch: stopped (${signal})\n`);
    });
}

/** A kernel backend's nodes count per peer in a lab, so lab watch draws their tunnels' rates. */
const kernelWatch = (backend: string | undefined): string => (backend === 'vxlan' || backend === 'host-gw' ? ' --peer-counters' : '');

/** For a lab with etcd: where it listens, and how to start a node against it. */
function describeEtcd(lab: Lab): string {
  const backend = lab.state.topology.backend;
  if (!lab.state.topology.etcd) {
    const host = lab.state.topology.hosts.find((h) => h.pods);
    if (!backend || !host) return '';
    return `\nnode: tun-driver lab exec ${host.name} -- tun-driver overlay --backend ${backend} --network 10.244.0.0/16 --subnet ${host.pods!.subnet} --public-ip ${lab.address(host.name)} --leases LEASES.json --subnet-file ${labSubnetFile(lab, host.name)}${backend === 'wireguard' ? ' --private-key KEY' : ''}${kernelWatch(backend)}\n`;
  }
  const endpoints = labEtcdEndpoints(lab).join(',');
  const host = lab.state.topology.etcd.members[0];
  const tls = labEtcdClientFlags(lab);
  return `\netcd: ${endpoints} (network config at ${DEFAULT_ETCD_PREFIX}/config, backend ${backend ?? 'udp'}${tls.length ? '; TLS, client certificates and RBAC' : ''})\n` +
    `node: tun-driver lab exec ${host} -- tun-driver overlay --etcd-endpoints ${endpoints}${tls.length ? ` ${tls.join(' ')}` : ''} --public-ip ${lab.address(host)} --subnet-file ${labSubnetFile(lab, host)}${kernelWatch(backend)}\n` +
    `pods: tun-driver lab pod add ${host}   (once the node's daemon has written its subnet.env)\n`;
}

/** `lab pod add|del|check`: pods through tun-driver-cni, as a runtime makes them. */
function podCommands(): Command {
  const pod = new Command('pod').description('add, check and delete pods through the tun-driver-cni plugin, as a container runtime does');
  const targets = (lab: Lab, names: string[]): string[] =>
    names.flatMap((n) => (lab.node(n).kind === 'host' ? podsOf(lab, n) : [n]));
  const open = (first: string, labName?: string): Lab => {
    if (labName !== undefined) checkLabName(labName);
    return labName ? Lab.open(labName) : Lab.findByNode(first);
  };
  const cniFailure = (pod: string, err: unknown): never => {
    if (err instanceof CniError) throw new TunDriverError('TUN_ERR_LAB', `${pod}: tun-driver-cni failed with CNI code ${err.code}: ${err.message}${err.details ? ` (${err.details})` : ''}`);
    throw err;
  };
  pod
    .command('add')
    .description("ADD: give pods their network (a host's name means all its pods); needs the host's subnet.env, i.e. its overlay daemon running")
    .argument('<node...>', 'pods (host-1-pod1) or hosts (host-1: all its pods)')
    .option('--lab <name>', 'which lab (needed only when several labs have that node)')
    .option('--json', "print the plugin's results as JSON")
    .addHelpText('after', '\nExamples:\n  tun-driver lab pod add host-1\n  tun-driver lab pod add host-1-pod2 host-2-pod1\n')
    .action(async (names: string[], opts: { lab?: string; json?: boolean }) => {
      const lab = open(names[0], opts.lab);
      const added = [];
      for (const p of targets(lab, names)) added.push(await addPod(lab, p).catch((err) => cniFailure(p, err)));
      if (opts.json) return printJson(added);
      for (const a of added) process.stdout.write(`${a.pod.padEnd(16)} ${a.addresses.join(' ')}${a.gateway ? ` via ${a.gateway}` : ''}\n`);
    });
  const eachPod: Array<[string, string, (lab: Lab, pod: string) => Promise<void>, string]> = [
    ['check', 'CHECK: ask the plugin (and bridge, host-local) whether pods are still as ADD left them', checkPod, 'ok'],
    ['del', "DEL: remove pods' interfaces and free their addresses (a pod never added is fine)", deletePod, 'deleted'],
  ];
  for (const [name, description, run, done] of eachPod) {
    pod
      .command(name)
      .description(description)
      .argument('<node...>', 'pods or hosts')
      .option('--lab <name>', 'which lab')
      .action(async (names: string[], opts: { lab?: string }) => {
        const lab = open(names[0], opts.lab);
        for (const p of targets(lab, names)) {
          await run(lab, p).catch((err) => cniFailure(p, err));
          process.stdout.write(`${p.padEnd(16)} ${done}\n`);
        }
      });
  }
  return pod;
}

function checkLabName(name: string): void {
  if (!LAB_NAME.test(name)) throw usageError(`lab name "${name}" is not valid: 1-20 characters, lower-case letters, digits and "-", starting with a letter`);
}

function otherHostAddress(lab: Lab): string {
  const hosts = lab.state.nodes.filter((n) => n.kind === 'host');
  return (hosts[1] ?? hosts[0]).addresses[0].split('/')[0];
}

function signalNumber(signal: NodeJS.Signals): number | undefined {
  return ({ SIGINT: 2, SIGKILL: 9, SIGTERM: 15 } as Record<string, number>)[signal];
}
