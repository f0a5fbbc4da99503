// How commands talk to people and scripts: one-line errors with exit
// codes, JSON when asked.
import { TunDriverError } from '../errors.js';

/** Exit codes: 0 ok, 1 failure at run time, 2 bad input or missing privilege (nothing changed). */
export const EXIT = { OK: 0, FAILURE: 1, USAGE: 2 } as const;

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

export function usageError(message: string): TunDriverError {
  return new TunDriverError('TUN_ERR_USAGE', message);
}

/** Prints an error as one line and returns the exit code it deserves. */
export function reportError(err: unknown): number {
  if (err instanceof TunDriverError) {
    process.stderr.write(`tun-driver: ${err.message}\n`);
    return err.isUserError ? EXIT.USAGE : EXIT.FAILURE;
  }
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`tun-driver: unexpected error: ${message}\n`);
  if (process.env.TUN_DRIVER_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  return EXIT.FAILURE;
}

/** Parses a whole number flag, or throws a usage error naming the flag. */
export function intOption(flag: string, text: string, min: number, max: number): number {
  const value = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(value >= min && value <= max)) throw usageError(`${flag} ${text}: must be a whole number from ${min} to ${max}`);
  return value;
}
