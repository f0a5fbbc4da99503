// npm run bench:handshake — what one WireGuard handshake costs each side in
// CPU, from the initiation to the first transport message: the initiator
// builds an initiation, the responder consumes it and answers, the
// initiator consumes the response and seals its first packet, the
// responder opens it. Two WireGuard transports in this process, wired back
// to back; CPU time (process.cpuUsage) per side, averaged over N.
import { SpanList, Spans } from '../src/io/batch.js';
import { paddedLength, WireGuard } from '../src/wireguard/device.js';
import { newPrivateKey, publicBytesOf } from '../src/wireguard/primitives.js';

const N = Number(process.env.BENCH_HANDSHAKES ?? 2000);
const inbox: Uint8Array[] = [];
const sink = (m: Spans): void => {
  for (let i = 0; i < m.count; i++) inbox.push(m.buf.slice(m.offsets[i], m.offsets[i] + m.lengths[i]));
};
let clock = 0;
const now = (): number => clock;
const keys = [newPrivateKey().privateKey, newPrivateKey().privateKey];
const packet = SpanList.copyOf([new Uint8Array(100)]);
const out = SpanList.copyOf([new Uint8Array(paddedLength(100, 1420) + 32)]);

function cpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

let initiatorUs = 0;
let responderUs = 0;
for (let i = 0; i < N + 100; i++) {
  // New transports each time: no session to reuse, the timers never in the way.
  const a = new WireGuard({ privateKey: keys[0], pathMtu: 1420, send: sink, now });
  const b = new WireGuard({ privateKey: keys[1], pathMtu: 1420, send: sink, now });
  const pa = a.peer(b.publicKey, publicBytesOf(keys[1]), 2, 8285);
  b.peer(a.publicKey, publicBytesOf(keys[0]), 1, 8285);
  const warm = i < 100; // JIT warm-up rounds are not counted
  let t = cpuUs();
  a.sendingKeypair(pa, 1); // initiation
  let dt = cpuUs() - t;
  if (!warm) initiatorUs += dt;
  const init = inbox.shift()!;
  t = cpuUs();
  b.receive(init, 0, init.length, 1, 8285); // response
  dt = cpuUs() - t;
  if (!warm) responderUs += dt;
  const resp = inbox.shift()!;
  t = cpuUs();
  a.receive(resp, 0, resp.length, 2, 8285); // session, and a keepalive
  inbox.length = 0;
  const kp = a.sendingKeypair(pa, 1)!;
  a.sealRun(pa, kp, out, 0, 1, packet, 0);
  dt = cpuUs() - t;
  if (!warm) initiatorUs += dt;
  const first = out.buf.slice(0, out.lengths[0]);
  t = cpuUs();
  const n = b.receive(first, 0, first.length, 1, 8285);
  dt = cpuUs() - t;
  if (!warm) responderUs += dt;
  if (n < 0) throw new Error('the first transport message did not open');
  clock += 10;
}
const per = (us: number): string => `${(us / N / 1000).toFixed(3)} ms`;
console.log(`WireGuard handshake, initiation to first transport message, ${N} handshakes (${new Date().toISOString()}, node ${process.version}):`);
console.log(`  initiator CPU ${per(initiatorUs)} per handshake, responder CPU ${per(responderUs)} per handshake`);
console.log(`bar, handshake cost: <= 1 ms of daemon CPU per side ${initiatorUs / N <= 1000 && responderUs / N <= 1000 ? 'met' : 'NOT met'}`);
