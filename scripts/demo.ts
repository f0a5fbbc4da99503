// npm run demo — the tutorial's system, in namespaces on this machine:
// part 1: host-1 and host-2 on an underlay switch; on host-1 a TUN device
// tun19 (10.244.1.3/24) made with `tun-driver tun add` ("plan one"), and the
// relay attached to it. A real `ping -I tun19 host-2` and `traceroute -I`
// go through the TUN and the relay; the relay's --trace shows the path.
// part 2 (the article's proposed next step): two nodes with a pod each,
// an overlay daemon per node, and the pods talking across nodes over UDP;
// then the same lab switched to the kernel's vxlan backend, with what each
// puts on the wire.
// part 3: the same on three nodes with etcd inside the lab as control
// plane: nodes take their subnets and learn about each other as they join.
// Everything is torn down at the end (also on Ctrl-C). Exit 0 only if the
// replies came back.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Lab } from '../src/lab/lab.js';
import { presetTopology } from '../src/lab/presets.js';
import { startRelay, RelayRun } from '../harness/daemon-harness.js';
import { OverlayCluster } from '../harness/overlay-cluster.js';
import { startCapture } from '../harness/capture.js';
import { labEtcdEndpoints, labSubnetFile } from '../src/lab/lab-etcd.js';
import { podsOf } from '../src/lab/lab-pods.js';

const LAB = 'demo';
const OVERLAY_LAB = 'demo-ovl';
const ETCD_LAB = 'demo-etcd';
const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

function step(title: string): void {
  process.stdout.write(`\n== ${title}\n`);
}

/** Shows and runs a command inside host-1 the way a reader would type it there; returns its output. */
function onHost1(cmd: string, ...args: string[]): { code: number | null; output: string } {
  process.stdout.write(`host-1$ ${cmd} ${args.join(' ')}\n`);
  const [file, argv] = cmd === 'tun-driver' ? [process.execPath, [CLI, ...args]] : [cmd, args];
  const r = spawnSync(process.execPath, [CLI, 'lab', 'exec', '--lab', LAB, 'host-1', '--', file, ...argv], { encoding: 'utf8', timeout: 60_000 });
  const output = (r.stdout ?? '') + (r.stderr ?? '');
  process.stdout.write(output.replace(/^/gm, '  ').replace(/ +$/, ''));
  return { code: r.status, output };
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the demo builds network namespaces: run it as root');
  await Lab.down(LAB); // a demo interrupted earlier
  await Lab.down(OVERLAY_LAB);
  step("the article's two hosts, built from network namespaces (tun-driver lab up --preset two-hosts)");
  const lab = await Lab.up(presetTopology('two-hosts', { name: LAB }));
  for (const n of lab.state.nodes) process.stdout.write(`  ${n.name.padEnd(9)} ${n.netns.padEnd(24)} ${n.addresses.join(' ')}\n`);
  const host2 = lab.address('host-2');

  step('"plan one": make tun19 on host-1 on its own, over rtnetlink');
  if (onHost1('tun-driver', 'tun', 'add', 'tun19', '--address', '10.244.1.3/24').code !== 0) throw new Error('tun add failed');

  step('start the relay on host-1, attached to tun19, tracing every packet');
  process.stdout.write('host-1$ tun-driver relay --tun tun19 --attach --trace &\n');
  let relay: RelayRun | undefined = await startRelay(lab, 'host-1', ['--tun', 'tun19', '--attach', '--trace']);
  try {
    process.stdout.write(relay.stderr().replace(/^/gm, '  '));

    step('ping host-2 through the TUN: the kernel sends it into tun19, the relay out through eth0');
    const pinged = onHost1('ping', '-c', '3', '-i', '0.3', '-I', 'tun19', host2);
    const received = Number(/(\d+) received/.exec(pinged.output)?.[1] ?? 0);

    step('traceroute -I through the TUN: TTLs pass through, errors come back');
    const traced = onHost1('traceroute', '-I', '-n', '-q', '1', '-w', '2', '-i', 'tun19', host2);
    const reached = new RegExp(`^\\s*\\d+\\s+${host2.replace(/\./g, '\\.')}\\s`, 'm').test(traced.output);

    step('the path of the first ping, from the relay\'s --trace');
    await new Promise((r) => setTimeout(r, 200)); // spawnSync held the loop: let the relay's output in
    const trace = relay.stdout().split('\n').filter((l) => / seq 1,/.test(l)).slice(0, 2);
    process.stdout.write(trace.map((l) => `  ${l}\n`).join(''));
    process.stdout.write('  (tun>net: read from tun19, sent out through the host; net>tun: the reply, written into tun19)\n');

    step('stop the relay (SIGTERM): it prints its counters and restores what it changed');
    await relay.stop('SIGTERM');
    process.stdout.write(relay.stderr().split('\n').filter((l) => /stopping/.test(l)).map((l) => `  ${l}\n`).join(''));
    relay = undefined;

    step('clean up');
    onHost1('tun-driver', 'tun', 'del', 'tun19');
    await Lab.down(LAB);
    process.stdout.write(`  lab ${LAB} removed\n`);

    const overlay = await overlayPart();
    const joined = await etcdPart();

    step('summary');
    process.stdout.write(`  relay:   ping -I tun19 ${host2}: ${received}/3 replies; traceroute -I: ${reached ? 'reached' : 'did NOT reach'} ${host2}\n`);
    process.stdout.write(`  overlay: pod on host-1 -> pod on host-2, both added through tun-driver-cni, over the udp backend and then the kernel's vxlan: ${overlay}/3 replies (the fewer of the two)\n`);
    process.stdout.write(`  etcd:    host-3 took a subnet and joined on its own; pod on host-1 -> its pod: ${joined}/3 replies\n`);
    if (received !== 3 || !reached || overlay !== 3 || joined !== 3) throw new Error('the replies did not all come back');
    process.stdout.write('\ndemo OK\n');
    process.stdout.write('\nsee a cluster live (map, rates, a packet\'s path hop by hop): bring one up with the README\'s "Using it" commands, then\n' +
      '  npx tun-driver lab watch          # open http://127.0.0.1:9180/ (Chinese labels: http://127.0.0.1:9180/?lang=zh)\n');
  } finally {
    await relay?.stop('SIGKILL').catch(() => undefined);
  }
}

/** Two nodes, a pod on each, an overlay daemon per node; returns the replies of a pod-to-pod ping. */
async function overlayPart(): Promise<number> {
  step('the article\'s next step: a pod network over UDP (tun-driver lab up --preset cluster --hosts 2 --pods 1)');
  const cluster = await OverlayCluster.up(OVERLAY_LAB, 2, 1);
  try {
    for (const n of cluster.lab.state.nodes) process.stdout.write(`  ${n.name.padEnd(12)} ${n.netns.padEnd(28)} ${n.addresses.join(' ')}\n`);
    process.stdout.write(`  leases (${cluster.leasesFile}): host-1 owns 10.244.1.0/24, host-2 owns 10.244.2.0/24\n`);
    for (const h of [1, 2]) await startNode(cluster, h);
    step('pod on host-1 pings the pod on host-2: cni0 -> flannel0 -> daemon -> UDP -> daemon -> flannel0 -> cni0');
    process.stdout.write(`host-1-pod1$ ping -c 3 -i 0.3 ${cluster.podIp(2, 1)}\n`);
    const r = await cluster.lab.run('host-1-pod1', 'ping', ['-c', '3', '-i', '0.3', cluster.podIp(2, 1)]);
    process.stdout.write(r.stdout.trimEnd().replace(/^/gm, '  ') + '\n');
    const host1 = cluster.daemons.get(1)!;
    const udpWire = await wire(cluster, 'udp port 8285');
    await cluster.stop(1);
    await cluster.stop(2);
    const exit = host1.stderr().trim().split('\n').map((l) => JSON.parse(l)).find((l) => /stopping/.test(l.msg));
    if (exit) process.stdout.write(`  host-1's daemon at exit: ${exit.msg.split('\n')[0]}\n`);
    process.stdout.write(`  on host-2's eth0 (tcpdump -n udp port 8285): ${udpWire}\n`);
    step('the same lab, switched to flannel\'s default backend: the kernel\'s VXLAN (tun-driver overlay --backend vxlan)');
    cluster.backend = 'vxlan';
    cluster.commonArgs = ['--remove-on-exit'];
    for (const h of [1, 2]) await cluster.start(h);
    const routes = await cluster.lab.run('host-1', 'ip', ['route', 'show', 'dev', 'flannel.1']);
    process.stdout.write(`  host-1$ ip route show dev flannel.1\n${routes.stdout.trimEnd().replace(/^/gm, '    ')}\n`);
    const v = await cluster.lab.run('host-1-pod1', 'ping', ['-c', '3', '-i', '0.3', cluster.podIp(2, 1)]);
    process.stdout.write(`host-1-pod1$ ping -c 3 -i 0.3 ${cluster.podIp(2, 1)}\n${v.stdout.trimEnd().split('\n').slice(-2).join('\n').replace(/^/gm, '  ')}\n`);
    process.stdout.write(`  on host-2's eth0 (tcpdump -n -T vxlan udp port 8472):\n      ${await wire(cluster, 'udp port 8472', 'vxlan')}\n`);
    const vxlanReplies = Number(/(\d+) received/.exec(v.stdout)?.[1] ?? 0);
    return Math.min(Number(/(\d+) received/.exec(r.stdout)?.[1] ?? 0), vxlanReplies);
  } finally {
    await cluster.down();
    process.stdout.write(`\n  lab ${OVERLAY_LAB} removed\n`);
  }
}

/** One ping from host-1's pod to host-2's, as tcpdump on host-2's eth0 shows it with `filter`: the first line. */
async function wire(cluster: OverlayCluster, filter: string, decodeAs?: string): Promise<string> {
  const cap = await startCapture(cluster.lab, 'host-2', 'eth0', filter, undefined, decodeAs);
  await cluster.lab.run('host-1-pod1', 'ping', ['-c', '1', '-W', '2', cluster.podIp(2, 1)]);
  const lines = await cap.stop();
  return lines.slice(0, decodeAs ? 2 : 1).map((l) => l.replace(/^\S+ /, '')).join('\n      ') || '(nothing)';
}

/**
 * Starts host h's daemon, then (as OverlayCluster does once subnet.env is
 * written) adds its pods through tun-driver-cni; shows both.
 */
async function startNode(cluster: OverlayCluster, h: number): Promise<{ subnet: unknown }> {
  process.stdout.write(`host-${h}$ tun-driver ${cluster.args(h).join(' ')} &\n`);
  const run = await cluster.start(h);
  const lines = run.stderr().trim().split('\n').map((l) => JSON.parse(l));
  process.stdout.write(`  ${lines[0].msg}\n`);
  process.stdout.write(`  ${lines.find((l) => /^overlay up/.test(l.msg))?.msg ?? ''}\n`);
  process.stdout.write(`  then, as a runtime would: CNI_COMMAND=ADD tun-driver-cni < ${labCniConfName(cluster, h)} (reads subnet.env, delegates to bridge + host-local)\n`);
  for (const pod of podsOf(cluster.lab, `host-${h}`)) process.stdout.write(`  ${pod}: ${cluster.lab.node(pod).addresses.join(' ')}\n`);
  return { subnet: lines.find((l) => l.subnet)?.subnet };
}

function labCniConfName(cluster: OverlayCluster, h: number): string {
  return `{"type":"tun-driver-cni","subnetFile":"${labSubnetFile(cluster.lab, `host-${h}`)}",...}`;
}

/**
 * Three nodes and an etcd inside the lab: nodes take their subnets from
 * etcd and learn about each other as they join. Returns the replies of a
 * ping to the pod of the node that joined last.
 */
async function etcdPart(): Promise<number> {
  step('the same with etcd as control plane, over TLS with client certificates and RBAC (tun-driver lab up --preset cluster --hosts 3 --pods 1 --etcd --etcd-tls)');
  const cluster = await OverlayCluster.up(ETCD_LAB, 3, 1, { etcd: true, etcdTls: true });
  try {
    process.stdout.write(`  etcd members: ${labEtcdEndpoints(cluster.lab).join(' ')}\n`);
    process.stdout.write(`  $ etcdctl get /coreos.com/network/config\n  ${(await cluster.etcdctl('get', '--print-value-only', '/coreos.com/network/config')).trim()}\n`);
    for (const h of [1, 2]) await startNode(cluster, h);
    step('host-3 joins: the others learn its subnet from the watch, no restarts');
    const host1 = cluster.daemons.get(1)!;
    const host3 = await startNode(cluster, 3);
    await new Promise((r) => setTimeout(r, 300));
    const key = String(host3.subnet).replace('/', '-');
    const learnt = host1.stderr().trim().split('\n').map((l) => JSON.parse(l)).filter((l) => (l.why ?? '').includes(`put ${key}`));
    process.stdout.write(`  host-1 logged: ${learnt[0]?.msg ?? '(nothing yet)'}\n`);
    process.stdout.write(`  $ etcdctl get --prefix /coreos.com/network/subnets/\n${(await cluster.etcdctl('get', '--prefix', '/coreos.com/network/subnets/')).trim().replace(/^/gm, '  ')}\n`);
    process.stdout.write(`host-1-pod1$ ping -c 3 -i 0.3 ${cluster.podIp(3, 1)}\n`);
    const r = await cluster.lab.run('host-1-pod1', 'ping', ['-c', '3', '-i', '0.3', cluster.podIp(3, 1)]);
    process.stdout.write(r.stdout.trimEnd().replace(/^/gm, '  ') + '\n');
    return Number(/(\d+) received/.exec(r.stdout)?.[1] ?? 0);
  } finally {
    await cluster.down();
    process.stdout.write(`\n  lab ${ETCD_LAB} removed (etcd with it)\n`);
  }
}

const interrupted = (): void => {
  void Promise.all([Lab.down(LAB), Lab.down(OVERLAY_LAB), Lab.down(ETCD_LAB)]).finally(() => process.exit(130));
};
process.once('SIGINT', interrupted).once('SIGTERM', interrupted);

main().catch(async (err) => {
  process.stderr.write(`\ndemo FAILED: ${err instanceof Error ? err.message : err}\n`);
  await Lab.down(LAB);
  await Lab.down(OVERLAY_LAB);
  await Lab.down(ETCD_LAB);
  process.exitCode = 1;
});
