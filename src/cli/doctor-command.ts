// `tun-driver doctor`: checks the TUN devices and daemons of this network
// namespace and says what is wrong and how to fix it. Exit 1 when any
// check finds a problem, 0 otherwise.
import { Command } from 'commander';
import { runDoctor } from '../doctor/doctor.js';
import { checkInterfaceName } from '../tun/linux-tun.js';
import { printJson, usageError } from './output.js';
import { parseIPv4 } from '../packet/addr.js';
import { parseIPv6 } from '../packet/addr6.js';

const LABEL = { ok: 'ok     ', warning: 'warning', problem: 'PROBLEM' } as const;

export function doctorCommand(): Command {
  return new Command('doctor')
    .description('find why packets vanish: TUN state, reverse-path filtering, ip_forward, MTU, firewall rules (reads only)')
    .option('--tun <name>', 'only this device')
    .option('--probe <addr>', 'send one test packet to ADDR through the daemon and report where it stopped (an overlay probes a peer by default)')
    .option('--json', 'print the findings as JSON')
    .addHelpText('after', '\nExamples:\n  tun-driver doctor\n  tun-driver lab exec host-1 -- tun-driver doctor --tun tun19 --json\n\nExit code: 0 when nothing is wrong, 1 when a check found a problem.\n')
    .action(async (opts: { tun?: string; probe?: string; json?: boolean }) => {
      if (opts.tun) checkInterfaceName(opts.tun);
      if (opts.probe !== undefined && parseIPv4(opts.probe) === undefined && parseIPv6(opts.probe) === undefined) throw usageError(`--probe ${opts.probe}: not an IPv4 or IPv6 address`);
      const findings = await runDoctor({ tun: opts.tun, probe: opts.probe });
      if (opts.json) printJson(findings);
      else {
        for (const f of findings) {
          process.stdout.write(`${LABEL[f.status]}  ${f.check}: ${f.evidence}\n`);
          if (f.fix) process.stdout.write(`         fix: ${f.fix}\n`);
        }
      }
      if (findings.some((f) => f.status === 'problem')) process.exitCode = 1;
    });
}
