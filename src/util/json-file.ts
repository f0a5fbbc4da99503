// Reading a JSON file a user gave us, with errors that name the file and say what is wrong.
import { readFileSync } from 'node:fs';
import { TunDriverError, TunErrorCode } from '../errors.js';

/** Parsed contents of `path`; `what` names it in messages ("topology file"). */
export function readJsonFile(path: string, what: string, code: TunErrorCode): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new TunDriverError(code, `cannot read ${what} ${path}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new TunDriverError(code, `${path} is not valid JSON: ${(err as Error).message}`);
  }
}
