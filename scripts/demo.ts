// npm run demo — the seed article's setup, in namespaces on this machine:
// host-1 and host-2 on an underlay switch, a TUN device tun19 on host-1
// made with `tun-driver tun add`, shown with `tun show`, and a hand-built
// ICMP echo written into tun19 whose kernel reply is read back. Everything
// is torn down at the end (also on Ctrl-C); exit 0 only if every step worked.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Lab } from '../src/lab/lab.js';
import { presetTopology } from '../src/lab/presets.js';
import { LinuxTun } from '../src/tun/linux-tun.js';
import { parseIPv4 } from '../src/packet/addr.js';
import { echoRoundTrip } from '../test/support/echo-roundtrip.js';

const LAB = 'demo';
const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

function step(title: string): void {
  process.stdout.write(`\n== ${title}\n`);
}

/** Shows and runs a tun-driver command the way a reader would type it. */
function tunDriver(...args: string[]): void {
  process.stdout.write(`$ tun-driver ${args.join(' ')}\n`);
  const r = spawnSync(process.execPath, [CLI, ...args], { stdio: 'inherit', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`tun-driver ${args.join(' ')} exited with ${r.status}`);
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the demo builds network namespaces: run it as root');
  await Lab.down(LAB); // a demo interrupted earlier
  step("the article's two hosts, built from network namespaces");
  tunDriver('lab', 'up', '--preset', 'two-hosts', '--name', LAB);
  const lab = Lab.open(LAB);

  step('host-1 reaches host-2 over the underlay');
  tunDriver('lab', 'exec', '--lab', LAB, 'host-1', '--', 'ping', '-c', '2', '-i', '0.2', lab.address('host-2'));

  step('"plan one": make tun19 on host-1 on its own (rtnetlink, no `ip` commands)');
  tunDriver('lab', 'exec', '--lab', LAB, 'host-1', '--', 'tun-driver', 'tun', 'add', 'tun19', '--address', '10.244.1.3/24');

  step("attach to tun19 and write a hand-built echo request from 10.244.1.9 into it");
  const tun = LinuxTun.attach('tun19', { netns: lab.ns('host-1') });
  try {
    const r = await echoRoundTrip(tun, { count: 3, timeoutMs: 5000, tunAddress: parseIPv4('10.244.1.3')!, peerAddress: parseIPv4('10.244.1.9')!, batchSize: 8 });
    process.stdout.write(`wrote 3 echo requests 10.244.1.9 > 10.244.1.3 into tun19; read back ${r.received} echo replies 10.244.1.3 > 10.244.1.9 (${r.elapsedMs.toFixed(1)} ms)\n`);
    if (r.received !== 3) throw new Error(`expected 3 replies through tun19, got ${r.received}`);
    step('tun19 while we hold it open: carrier up, and the kernel counted our packets');
    tunDriver('lab', 'exec', '--lab', LAB, 'host-1', '--', 'tun-driver', 'tun', 'show', 'tun19');
  } finally {
    tun.close();
  }

  step('clean up');
  tunDriver('lab', 'exec', '--lab', LAB, 'host-1', '--', 'tun-driver', 'tun', 'del', 'tun19');
  tunDriver('lab', 'down', LAB);
  process.stdout.write('\ndemo OK: the lab was built, tun19 carried packets both ways, and everything was removed.\n');
}

const interrupted = (): void => {
  void Lab.down(LAB).finally(() => process.exit(130));
};
process.once('SIGINT', interrupted).once('SIGTERM', interrupted);

main().catch(async (err) => {
  process.stderr.write(`\ndemo FAILED: ${err instanceof Error ? err.message : err}\n`);
  await Lab.down(LAB);
  process.exitCode = 1;
});
