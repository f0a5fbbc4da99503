// --pcap FILE [--pcap-max-mb N] for the daemons: wraps the TUN so that
// what the daemon reads from and writes to it lands in a pcap file.
import { Command } from 'commander';
import { accessSync, constants, statSync, Stats } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Logger } from '../log.js';
import { PcapWriter } from '../io/pcap-writer.js';
import { CapturingDevice } from '../tun/capturing-device.js';
import { PacketDevice } from '../tun/device.js';
import { UndoStack } from './daemon.js';
import { intOption, usageError } from './output.js';

export function addCaptureOptions(cmd: Command): Command {
  return cmd
    .option('--pcap <file>', 'record every packet read from and written to the TUN (tcpdump -r FILE reads it)')
    .option('--pcap-max-mb <n>', 'stop recording when the file reaches this size', '100');
}

export interface CaptureFlags {
  pcap?: string;
  pcapMaxMb: string;
}

/** Checks the flags (before anything changes); returns the bound in bytes. */
export function captureLimit(flags: CaptureFlags): number {
  if (flags.pcap !== undefined) checkPcapPath(flags.pcap);
  return intOption('--pcap-max-mb', flags.pcapMaxMb, 1, 100_000) * 1024 * 1024;
}

/** A file we can create: not a directory, in a directory that exists and that we may write to. */
function checkPcapPath(path: string): void {
  if (path.trim() === '') throw usageError('--pcap needs a file name');
  const existing = statOrUndefined(path);
  if (existing?.isDirectory()) throw usageError(`--pcap ${path} is a directory: give a file name, e.g. ${join(path, 'capture.pcap')}`);
  const dir = dirname(resolve(path));
  const parent = statOrUndefined(dir);
  if (!parent?.isDirectory()) throw usageError(`--pcap ${path}: the directory ${dir} does not exist`);
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    throw usageError(`--pcap ${path}: cannot write in ${dir}`);
  }
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

/** The device the daemon should use: `tun` itself, or a capturing wrapper. */
export function withCapture(tun: PacketDevice, flags: CaptureFlags, maxBytes: number, log: Logger, undo: UndoStack): PacketDevice {
  if (!flags.pcap) return tun;
  const pcap = new PcapWriter(flags.pcap, maxBytes, () => log.warn(`--pcap ${flags.pcap} reached ${flags.pcapMaxMb} MB: recording stopped`));
  undo.push(() => {
    pcap.close();
    log.info(`--pcap ${flags.pcap}: ${pcap.recorded} packets recorded${pcap.skipped ? `, ${pcap.skipped} left out (size bound)` : ''}`);
  });
  log.info(`recording packets on ${tun.name} to ${flags.pcap} (at most ${flags.pcapMaxMb} MB)`);
  return new CapturingDevice(tun, pcap);
}
