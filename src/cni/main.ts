#!/usr/bin/env node
// The tun-driver-cni executable. Kept to this module's small import graph:
// a runtime starts it once per pod, so Node.js start-up is most of its cost.
import { readFileSync } from 'node:fs';
import { runCniPlugin } from './cni-plugin.js';

let stdin = '';
try {
  if (process.env.CNI_COMMAND !== 'VERSION' || !process.stdin.isTTY) stdin = readFileSync(0, 'utf8');
} catch {
  // no stdin (closed): VERSION needs none; the others report the empty configuration
}
const answer = await runCniPlugin(process.env, stdin);
process.stdout.write(answer.stdout);
process.exitCode = answer.exitCode;
