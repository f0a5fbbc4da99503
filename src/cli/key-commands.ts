// `tun-driver keygen` and `tun-driver pubkey`: node keys for the
// authenticated overlay, as `wg genkey` and `wg pubkey` make them.
import { Command } from 'commander';
import { closeSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { decodeKey, generatePrivateKey, keyPairOf, NodeKeyPair, publicKeyOf } from '../wireguard/keys.js';
import { TunDriverError } from '../errors.js';
import { Logger } from '../log.js';
import { usageError } from './output.js';

export function keygenCommand(): Command {
  return new Command('keygen')
    .description('make a new node private key (X25519, base64) for overlay --private-key')
    .option('--out <file>', 'write it to FILE (created with mode 0600; an existing file is never overwritten) instead of stdout')
    .addHelpText('after', '\nExamples:\n  tun-driver keygen --out /etc/tun-driver/private.key\n  tun-driver keygen | tee private.key | tun-driver pubkey\n')
    .action((opts: { out?: string }) => {
      const key = generatePrivateKey();
      if (!opts.out) return void process.stdout.write(`${key}\n`);
      let fd: number;
      try {
        fd = openSync(opts.out, 'wx', 0o600);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        throw usageError(`--out ${opts.out}: ${code === 'EEXIST' ? 'the file exists (remove it first: a key is never overwritten)' : (err as Error).message}`);
      }
      try {
        writeSync(fd, `${key}\n`);
      } finally {
        closeSync(fd);
      }
      process.stdout.write(`wrote ${opts.out} (mode 0600); public key: ${publicKeyOf(key)}\n`);
    });
}

export function pubkeyCommand(): Command {
  return new Command('pubkey')
    .description('read a private key on stdin, print its public key (what goes in the leases file\'s "publicKey")')
    .addHelpText('after', '\nExamples:\n  tun-driver pubkey < private.key\n')
    .action(() => {
      let text: string;
      try {
        text = readFileSync(0, 'utf8');
      } catch (err) {
        throw usageError(`cannot read a private key on stdin: ${(err as Error).message}`);
      }
      process.stdout.write(`${keyPairOf(text, 'stdin').publicKey}\n`);
    });
}

/** The text of a key file given as `flag`; warns when other users may read it. */
function readKeyFile(flag: string, path: string, howToMake: string, log: Logger): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new TunDriverError('TUN_ERR_USAGE', `${flag} ${path}: ${(err as Error).message} (make one with: ${howToMake})`);
  }
  if ((statSync(path).mode & 0o077) !== 0) log.warn(`${flag} ${path} can be read by other users: chmod 600 ${path}`);
  return text;
}

/**
 * Reads --private-key FILE; warns when other users may read it.
 * @throws TunDriverError `TUN_ERR_USAGE` when the file is unreadable or holds no key.
 */
export function readPrivateKeyFile(path: string, log: Logger): NodeKeyPair {
  return keyPairOf(readKeyFile('--private-key', path, `tun-driver keygen --out ${path}`, log), `--private-key ${path}`);
}

/**
 * Reads --preshared-key FILE (base64 of 32 bytes, as `wg genpsk` prints); warns when other users may read it.
 * @throws TunDriverError `TUN_ERR_USAGE` when the file is unreadable or holds no key.
 */
export function readPresharedKeyFile(path: string, log: Logger): Uint8Array {
  return decodeKey(readKeyFile('--preshared-key', path, `wg genpsk > ${path}`, log), `--preshared-key ${path}`);
}
