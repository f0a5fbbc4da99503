// doctor's live probe: arm the daemon's probe for one ICMP identifier,
// send one real ping (ICMP or, to an IPv6 target, ICMPv6) with that
// identifier through the path, and report the stages it reached (TUN in,
// sent, answer from the network, TUN out, delivered to ping) and where it
// stopped.
import { execFile } from 'node:child_process';
import { controlRequest } from '../control/control-server.js';
import { PROBE_STAGES, ProbeStage } from '../control/probe.js';
import type { Finding } from './finding.js';

const STAGE_NAMES: Record<ProbeStage | 'delivered', string> = {
  'tun-in': 'read from the TUN by the daemon',
  sent: 'sent to the network',
  'from-network': 'answer received from the network',
  'tun-out': 'answer written into the TUN',
  delivered: 'answer delivered to ping by the kernel',
};

const WHY_STOPPED: Record<ProbeStage | 'delivered', string> = {
  'tun-in': 'the kernel never handed the packet to the daemon: is the route into the device there, is the device up?',
  sent: 'the daemon did not send it (see its drop counters: tun-driver status)',
  'from-network': 'nothing came back: look at the far end and the path (a firewall, the other node\'s daemon: run tun-driver doctor there)',
  'tun-out': 'an answer arrived but the daemon did not write it into the TUN (see its drop counters)',
  delivered: 'the daemon wrote the answer into the TUN, and this host\'s kernel dropped it: reverse-path filtering or a firewall on this host',
};

function ping(args: string[]): Promise<boolean> {
  return new Promise((resolve) => {
    execFile('ping', args, { timeout: 5000 }, (err, stdout) => resolve(!err && / 1 received/.test(stdout)));
  });
}

export async function liveProbe(socketPath: string, device: string, mode: string, target: string): Promise<Finding> {
  const check = `${device} live probe`;
  const id = 20000 + Math.floor(Math.random() * 40000);
  await controlRequest(socketPath, `probe ${id}`);
  const args = ['-c', '1', '-W', '2', '-e', String(id), ...(mode === 'relay' ? ['-I', device] : []), target];
  const delivered = await ping(args);
  const result = (await controlRequest(socketPath, 'probe-result')) as { reached?: Record<string, number>; stoppedBecause?: string };
  const reached = result.reached ?? {};
  const path: string[] = [];
  let stoppedAt: ProbeStage | 'delivered' | undefined;
  for (const stage of PROBE_STAGES) {
    if (reached[stage] === undefined) {
      stoppedAt = stage;
      break;
    }
    path.push(`${STAGE_NAMES[stage]} (+${reached[stage]} ms)`);
  }
  if (!stoppedAt && !delivered) stoppedAt = 'delivered';
  const what = `ping -e ${id} ${mode === 'relay' ? `-I ${device} ` : ''}${target}`;
  if (!stoppedAt) return { check, status: 'ok', evidence: `${what}: ${path.join(' -> ')} -> ${STAGE_NAMES.delivered}` };
  const reason = result.stoppedBecause ? ` (${result.stoppedBecause})` : '';
  return {
    check,
    status: 'problem',
    evidence: `${what}: ${path.length ? path.join(' -> ') + ' -> ' : ''}stopped before "${STAGE_NAMES[stoppedAt]}"${reason}: ${WHY_STOPPED[stoppedAt]}`,
  };
}
