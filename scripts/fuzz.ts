// npm run fuzz [-- --inputs N] [--seconds S] [--seed X] — mutated inputs
// through every parser and both engines (harness/fuzz/targets.ts), bounded
// by count and time. Prints inputs/s per target; exits 1 on the first
// broken rule, with the seed and input number that reproduce it.
import { parseArgs } from 'node:util';
import { runFuzz } from '../harness/fuzz/targets.js';

const { values } = parseArgs({ options: { inputs: { type: 'string', default: '1250000' }, seconds: { type: 'string', default: '600' }, seed: { type: 'string', default: String(Date.now() % 1e9) } } });
const inputs = Number(values.inputs);
const seconds = Number(values.seconds);
const seed = Number(values.seed);
if (!(inputs > 0 && seconds > 0 && Number.isInteger(seed))) {
  console.error('fuzz: --inputs and --seconds must be positive numbers, --seed an integer');
  process.exit(2);
}
console.log(`fuzz: seed ${seed}, up to ${inputs} inputs per target, ${seconds} s in all (node ${process.version})`);
const started = performance.now();
try {
  const total = runFuzz(seed, inputs, started + seconds * 1000, (name, n, perSecond) => console.log(`  ${name.padEnd(40)} ${String(n).padStart(9)} inputs ${Math.round(perSecond).toString().padStart(8)}/s`));
  console.log(`fuzz: ${total} inputs in ${((performance.now() - started) / 1000).toFixed(1)} s, 0 exceptions, 0 broken rules`);
} catch (err) {
  console.error(`fuzz: ${(err as Error).message}`);
  process.exitCode = 1;
}
