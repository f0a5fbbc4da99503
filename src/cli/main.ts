#!/usr/bin/env node
// tun-driver's command line: commands are assembled here; each family
// lives in its own module.
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { labCommands } from './lab-commands.js';
import { tunCommands } from './tun-commands.js';
import { relayCommand } from './relay-command.js';
import { overlayCommand } from './overlay-command.js';
import { teardownCommand } from './teardown-command.js';
import { cniCommand } from './cni-command.js';
import { wireguardCommand } from './wg-interface-command.js';
import { statusCommand } from './status-command.js';
import { doctorCommand } from './doctor-command.js';
import { keygenCommand, pubkeyCommand } from './key-commands.js';
import { EXIT, reportError } from './output.js';
import { dropIpServernameWarning } from './warnings.js';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

export function buildProgram(): Command {
  const program = new Command('tun-driver')
    .description('Linux user-space TUN networking: TUN devices over rtnetlink, an ICMP relay, a UDP overlay, and a namespace lab to try them in')
    .version(pkg.version)
    .enablePositionalOptions()
    .addHelpText('after', `
Examples:
  tun-driver lab up --preset two-hosts
  tun-driver lab exec host-1 -- tun-driver tun add tun19 --address 10.244.1.3/24
  tun-driver lab exec host-1 -- tun-driver tun show tun19
  tun-driver lab exec host-1 -- tun-driver relay --address 10.244.1.3/24 --trace
  tun-driver lab down

Exit codes: 0 ok, 1 run-time failure, 2 bad input or missing privilege (nothing was changed).`);
  program.addCommand(tunCommands());
  program.addCommand(labCommands());
  program.addCommand(relayCommand());
  program.addCommand(overlayCommand());
  program.addCommand(teardownCommand());
  program.addCommand(cniCommand());
  program.addCommand(wireguardCommand());
  program.addCommand(statusCommand());
  program.addCommand(doctorCommand());
  program.addCommand(keygenCommand());
  program.addCommand(pubkeyCommand());
  // Commander's own parse errors (unknown option, missing argument) are
  // usage errors: one line on stderr, exit 2 (see main()).
  const asUsageErrors = (cmd: Command): void => {
    cmd.exitOverride().configureOutput({
      outputError: (text, write) => write(`tun-driver: ${text.replace(/^error: /, '').replace(/\s*\n\s*(?=\S)/g, ' ').trim()} (add --help for usage)\n`),
    });
    cmd.commands.forEach(asUsageErrors);
  };
  asUsageErrors(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version exit 0; everything else commander rejects is bad usage.
      return err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    }
    return reportError(err);
  }
}

dropIpServernameWarning();
const code = await main(process.argv.slice(2));
process.exitCode = code;
// A failed command has said why and undone its set-up; nothing it opened
// (an etcd client's reconnect timers, say) may keep the process alive.
if (code !== EXIT.OK) process.exit(code);
