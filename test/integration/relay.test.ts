// The relay's eight behaviours, each against real ping and
// traceroute in a lab: host-1 runs the relay, host-3 shares its segment
// (the "third host"), host-2 sits behind router-1.
import { after, before, describe, test } from 'node:test';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { Lab } from '../../src/lab/lab.js';
import { validateTopology } from '../../src/lab/topology.js';
import { sysctlRead, sysctlWrite } from '../../src/netns/sysctl.js';
import { ping, startRelay, RelayRun } from '../../harness/daemon-harness.js';
import { fetchInNode, labName, metricValue, ROOT_SKIP } from './helpers.js';

const HOST2 = '198.51.100.130';
const HOST3 = '198.51.100.2';
const RELAY_HOST = '198.51.100.1';
const ROUTER = '198.51.100.126';
const CLI_PATH = new URL('../../src/cli/main.js', import.meta.url).pathname;

let lab: Lab;

function topology(name: string) {
  return validateTopology({
    name,
    segments: [{ name: 'lan-a', subnet: '198.51.100.0/25' }, { name: 'lan-b', subnet: '198.51.100.128/25' }],
    hosts: [
      { name: 'host-1', segment: 'lan-a', address: RELAY_HOST },
      { name: 'host-3', segment: 'lan-a', address: HOST3 },
      { name: 'host-2', segment: 'lan-b', address: HOST2 },
    ],
    routers: [{ name: 'router-1', interfaces: [{ segment: 'lan-a', address: ROUTER }, { segment: 'lan-b', address: '198.51.100.254' }] }],
  });
}

const sh = async (node: string, cmd: string, ...args: string[]): Promise<string> => {
  const r = await lab.run(node, cmd, args);
  assert.equal(r.code, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};

/** Counters from the relay's JSON exit line. */
function exitCounters(run: RelayRun): { counters: Record<string, any>; flows: number } {
  const line = run.stderr().split('\n').filter((l) => l.includes('"stopping on')).pop();
  assert.ok(line, `no exit counters in: ${run.stderr()}`);
  return JSON.parse(line);
}

describe('tun-driver relay', { skip: ROOT_SKIP }, () => {
  before(async () => {
    lab = await Lab.up(topology(labName('relay')));
  });
  after(async () => {
    await lab?.down();
  });

  test('1. ping -I tun19 works for payloads 0, 56, 1000, 1472 and 3000 (fragmented) bytes, intact', async () => {
    const relay = await startRelay(lab, 'host-1', ['--address', '10.244.1.3/24', '--json-log']);
    try {
      for (const size of [0, 56, 1000, 1472, 3000]) {
        const r = await ping(lab, 'host-1', ['-c', '3', '-i', '0.2', '-W', '2', '-s', String(size), '-I', 'tun19', HOST2]);
        assert.equal(r.received, 3, `-s ${size}: ${r.output}`);
        assert.equal(r.duplicates, 0, `-s ${size}: ${r.output}`);
        assert.deepEqual(r.replySizes, [size + 8, size + 8, size + 8], `-s ${size}: whole replies`);
        assert.deepEqual(r.seqs, [1, 2, 3]);
        assert.doesNotMatch(r.output, /truncated|wrong data|wrong byte/);
      }
    } finally {
      await relay.stop();
    }
    const { counters } = exitCounters(relay);
    assert.ok(counters.reassembled >= 3, 'the 3000-byte requests came out of the TUN fragmented and were reassembled');
    assert.ok(counters.repliesFragmented >= 3, 'the 3008-byte replies went into the TUN in fragments');
  });

  test('2. concurrent pingers, several sources, the same identifier: each gets exactly its own replies', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tdlab-flows-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const relay = await startRelay(lab, 'host-1', ['--address', '10.244.1.3/24', '--json-log', '--pcap', `${dir}/tun.pcap`]);
    const pingers = [
      ['-e', '777', '-I', '10.244.1.4', HOST2],
      ['-e', '777', '-I', '10.244.1.5', HOST2],
      ['-e', '777', '-I', '10.244.1.3', HOST2],
      // Same source, other destination, other identifier: (source, identifier)
      // is all a raw-socket ping can tell its replies by, relay or not.
      ['-e', '778', '-I', '10.244.1.4', HOST3],
      ['-I', 'tun19', HOST3],
      ['-I', 'tun19', HOST2],
    ];
    try {
      // Two more pinger addresses, and a rule that sends their traffic into the TUN.
      await sh('host-1', 'ip', 'addr', 'add', '10.244.1.4/24', 'dev', 'tun19');
      await sh('host-1', 'ip', 'addr', 'add', '10.244.1.5/24', 'dev', 'tun19');
      await sh('host-1', 'ip', 'route', 'add', 'default', 'dev', 'tun19', 'table', '100');
      await sh('host-1', 'ip', 'rule', 'add', 'from', '10.244.1.0/24', 'lookup', '100');
      const results = await Promise.all(pingers.map((p) => ping(lab, 'host-1', ['-c', '30', '-i', '0.02', '-W', '2', ...p])));
      results.forEach((r, i) => {
        assert.equal(r.received, 30, `${pingers[i].join(' ')}: ${r.output}`);
        assert.deepEqual([...new Set(r.seqs)].sort((a, b) => a - b), Array.from({ length: 30 }, (_, k) => k + 1));
        // iputils opens its raw socket before bind()ing it to -I ADDR, and an
        // unbound raw socket gets every ICMP packet the host delivers: a
        // pinger that starts while another one with the same identifier is
        // being answered can queue that one's first replies and later call
        // its own a DUP!. Not the relay's doing (the capture below proves
        // each reply went to exactly one pinger), so only there, and only
        // for the first sequence numbers, is a DUP! tolerated.
        const sameIdRace = pingers[i][1] === '777';
        const dupSeqs = r.output.split('\n').filter((l) => l.includes('(DUP!)')).map((l) => Number(/icmp_seq=(\d+)/.exec(l)?.[1]));
        if (sameIdRace) assert.ok(dupSeqs.every((q) => q <= 3), `${pingers[i].join(' ')}: DUP! past startup: ${dupSeqs}`);
        else assert.equal(r.duplicates, 0, `${pingers[i].join(' ')}: DUP!`);
      });
    } finally {
      await lab.run('host-1', 'ip', ['rule', 'del', 'from', '10.244.1.0/24', 'lookup', '100']);
      await relay.stop();
    }
    const { counters, flows } = exitCounters(relay);
    assert.equal(flows, 6, 'one flow per (source, destination, identifier)');
    assert.equal(counters.replies, 180);
    assert.equal(counters.requests, 180);
    // What the relay wrote into the TUN: one reply per request, to the pinger that sent it.
    const read = await lab.run('host-1', 'tcpdump', ['-r', `${dir}/tun.pcap`, '-nn']);
    const key = (l: string, src: string, dst: string): string => `${src}>${dst} id ${/id (\d+)/.exec(l)?.[1]} seq ${/seq (\d+)/.exec(l)?.[1]}`;
    const requests = new Map<string, number>();
    const replies = new Map<string, number>();
    for (const l of read.stdout.split('\n')) {
      const m = /IP (\S+) > (\S+): ICMP echo (request|reply)/.exec(l);
      if (!m) continue;
      if (m[3] === 'request') requests.set(key(l, m[1], m[2]), (requests.get(key(l, m[1], m[2])) ?? 0) + 1);
      else replies.set(key(l, m[2], m[1]), (replies.get(key(l, m[2], m[1])) ?? 0) + 1);
    }
    assert.equal(requests.size, 180);
    assert.deepEqual([...replies.entries()].filter(([, n]) => n !== 1), [], 'no reply written twice');
    assert.deepEqual([...requests.keys()].sort(), [...replies.keys()].sort(), 'each request answered, to the pinger that sent it');
  });

  test('3. never a DUP!: a third host pinging the relay host is left alone', async () => {
    const relay = await startRelay(lab, 'host-1', ['--address', '10.244.1.3/24', '--json-log']);
    try {
      const [third, relayed] = await Promise.all([
        ping(lab, 'host-3', ['-c', '40', '-i', '0.02', '-W', '2', RELAY_HOST]),
        ping(lab, 'host-1', ['-c', '40', '-i', '0.02', '-W', '2', '-I', 'tun19', HOST2]),
      ]);
      assert.equal(third.received, 40, third.output);
      assert.equal(third.duplicates, 0, `the third host saw DUP!s: ${third.output}`);
      assert.equal(relayed.received, 40, relayed.output);
      assert.equal(relayed.duplicates, 0, relayed.output);
    } finally {
      await relay.stop();
    }
    const { counters } = exitCounters(relay);
    assert.equal(counters.replies, 40, 'only the relayed flow\'s replies entered the TUN');
    assert.equal(counters.requests, 40, 'the third host\'s echo requests never left as relayed requests');
  });

  test('4. ICMP errors come back like on a normal host, and traceroute -I completes', async () => {
    const relay = await startRelay(lab, 'host-1', ['--address', '10.244.1.3/24', '--json-log']);
    try {
      const hostUnreach = await ping(lab, 'host-1', ['-c', '1', '-W', '5', '-I', 'tun19', '198.51.100.99']);
      assert.match(hostUnreach.output, /Destination Host Unreachable/);
      const netUnreach = await ping(lab, 'host-1', ['-c', '1', '-W', '3', '-I', 'tun19', '10.99.0.1']);
      assert.match(netUnreach.output, new RegExp(`From ${ROUTER.replace(/\./g, '\\.')} icmp_seq=1 Destination Net Unreachable`));
      // The pinger's TTL is the one that leaves: 1 dies at the router, 2 arrives.
      const ttl1 = await ping(lab, 'host-1', ['-c', '1', '-W', '3', '-t', '1', '-I', 'tun19', HOST2]);
      assert.match(ttl1.output, new RegExp(`From ${ROUTER.replace(/\./g, '\\.')} icmp_seq=1 Time to live exceeded`));
      const ttl2 = await ping(lab, 'host-1', ['-c', '1', '-W', '3', '-t', '2', '-I', 'tun19', HOST2]);
      assert.equal(ttl2.received, 1, ttl2.output);
      const tr = await lab.run('host-1', 'traceroute', ['-I', '-n', '-q', '1', '-w', '2', '-m', '5', '-i', 'tun19', HOST2]);
      assert.equal(tr.code, 0, tr.stderr);
      const hops = tr.stdout.trim().split('\n').slice(1).map((l) => l.trim().split(/\s+/).slice(0, 2));
      assert.deepEqual(hops, [['1', ROUTER], ['2', HOST2]], tr.stdout);
    } finally {
      await relay.stop();
    }
    assert.ok(exitCounters(relay).counters.errorsRelayed >= 4);
  });

  test('5. TCP, UDP and IPv6 never leave as ICMP: answered or dropped, and counted', async () => {
    const relay = await startRelay(lab, 'host-1', ['--address', '10.244.1.3/24', '--json-log']);
    const snmp = async (): Promise<Record<string, number>> => {
      const text = await sh('host-2', 'cat', '/proc/net/snmp');
      const [names, values] = text.split('\n').filter((l) => l.startsWith('Icmp:'));
      return Object.fromEntries(names.split(' ').slice(1).map((n, i) => [n, Number(values.split(' ')[i + 1])]));
    };
    try {
      const before = await snmp();
      await sh('host-1', 'ip', 'route', 'add', 'default', 'dev', 'tun19', 'table', '100');
      await sh('host-1', 'ip', 'rule', 'add', 'from', '10.244.1.3', 'lookup', '100');
      // A TCP connect and a UDP send from the TUN address go into the TUN; the relay
      // answers "administratively prohibited", so they fail fast instead of hanging.
      const script = `
        const net = require('node:net'), dgram = require('node:dgram');
        const t0 = Date.now();
        const s = net.connect({ host: '${HOST2}', port: 80, localAddress: '10.244.1.3' });
        s.on('connect', () => { console.log('tcp connected?!'); process.exit(1); });
        s.on('error', (e) => {
          console.log('tcp', e.code, Date.now() - t0);
          const u = dgram.createSocket('udp4');
          u.bind({ address: '10.244.1.3' }, () => {
            u.connect(9, '${HOST2}', () => {
              u.on('error', (e2) => { console.log('udp', e2.code); process.exit(0); });
              u.send('x'); setTimeout(() => u.send('y'), 200);
              setTimeout(() => { console.log('udp no error'); process.exit(0); }, 2000);
            });
          });
        });
        setTimeout(() => { console.log('tcp timeout'); process.exit(1); }, 5000);`;
      const r = await lab.run('host-1', process.execPath, ['-e', script]);
      assert.match(r.stdout, /^tcp EHOSTUNREACH \d+$/m, r.stdout + r.stderr);
      assert.match(r.stdout, /^udp EHOSTUNREACH$/m, r.stdout + r.stderr);
      await sh('host-1', 'ip', 'rule', 'del', 'from', '10.244.1.3', 'lookup', '100');
      const ok = await ping(lab, 'host-1', ['-c', '2', '-i', '0.2', '-W', '2', '-I', 'tun19', HOST2]);
      assert.equal(ok.received, 2);
      const afterStats = await snmp();
      assert.equal(afterStats.InErrors - before.InErrors, 0, 'host-2 received no malformed ICMP');
      assert.equal(afterStats.InEchos - before.InEchos, 2, 'host-2 received exactly the two echo requests');
      assert.equal(afterStats.InMsgs - before.InMsgs, 2, 'and no other ICMP');
    } finally {
      await lab.run('host-1', 'ip', ['rule', 'del', 'from', '10.244.1.3', 'lookup', '100']);
      await relay.stop();
    }
    const { counters } = exitCounters(relay);
    assert.ok(counters.errorsGenerated >= 2, 'TCP SYN and UDP were answered');
    assert.ok((counters.dropped.ipv6 ?? 0) >= 1, 'the TUN\'s IPv6 router solicitations / MLD reports were dropped and counted');
  });

  test('6. strict rp_filter: fix loosens tun19 until exit, check only warns with the sysctl to run', async () => {
    const ns = lab.ns('host-1');
    const oldAll = sysctlRead('net.ipv4.conf.all.rp_filter', ns);
    sysctlWrite('net.ipv4.conf.all.rp_filter', 1, ns);
    try {
      const checking = await startRelay(lab, 'host-1', ['--address', '10.244.1.3/24', '--rp-filter', 'check']);
      const blocked = await ping(lab, 'host-1', ['-c', '2', '-i', '0.2', '-W', '1', '-I', 'tun19', HOST2]);
      await checking.stop();
      assert.match(checking.stderr(), /reverse-path filtering is strict on tun19.*sysctl -w net\.ipv4\.conf\.tun19\.rp_filter=2/);
      assert.equal(blocked.received, 0, 'strict mode drops the replies, as in the article');

      const fixing = await startRelay(lab, 'host-1', ['--address', '10.244.1.3/24', '--keep']);
      assert.equal(sysctlRead('net.ipv4.conf.tun19.rp_filter', ns), '2');
      const works = await ping(lab, 'host-1', ['-c', '2', '-i', '0.2', '-W', '2', '-I', 'tun19', HOST2]);
      await fixing.stop();
      assert.equal(works.received, 2, works.output);
      assert.equal(fixing.stderr().match(/set net\.ipv4\.conf\.tun19\.rp_filter=2 \(loose\) until exit/g)?.length, 1, 'said so in one log line');
      assert.equal(sysctlRead('net.ipv4.conf.tun19.rp_filter', ns), '0', 'restored at exit');
      await sh('host-1', 'ip', 'link', 'del', 'tun19');
    } finally {
      sysctlWrite('net.ipv4.conf.all.rp_filter', oldAll, ns);
    }
  });

  test('7. --trace prints one line per packet; SIGUSR1 and exit print the counters', async () => {
    const relay = await startRelay(lab, 'host-1', ['--address', '10.244.1.3/24', '--trace', '--metrics', '127.0.0.1:9101']);
    const r = await ping(lab, 'host-1', ['-c', '2', '-i', '0.2', '-W', '2', '-I', 'tun19', HOST2]);
    assert.equal(r.received, 2);
    const metrics = await fetchInNode(lab, 'host-1', 9101, '/metrics');
    assert.equal(metricValue(metrics, 'tun_driver_packets_total{direction="tun_to_net",daemon="relay"}'), 2);
    assert.equal(metricValue(metrics, 'tun_driver_packets_total{direction="net_to_tun",daemon="relay"}'), 2);
    assert.equal(metricValue(metrics, 'tun_driver_bytes_total{direction="tun_to_net",daemon="relay"}'), 168);
    assert.equal(metricValue(metrics, 'tun_driver_active_flows{daemon="relay"}'), 1);
    assert.ok((metricValue(metrics, 'tun_driver_batch_size_count{daemon="relay",side="tun"}') ?? 0) >= 2, metrics);
    // How the loop waited: one mode at a time; the two pings woke it; the second came while hot, and its request's
    // TUN fd (odds 1 at first) asked for an answer spin, caught or missed.
    assert.equal(['idle', 'hot', 'busy', 'libuv'].reduce((n, mode) => n + (metricValue(metrics, `tun_driver_io_wait_mode{mode="${mode}",daemon="relay"}`) ?? NaN), 0), 1, metrics);
    assert.ok((metricValue(metrics, 'tun_driver_io_wait_wakes_total{daemon="relay"}') ?? 0) >= 2, metrics);
    const spins = ['caught', 'missed'].map((outcome) => metricValue(metrics, `tun_driver_io_wait_answer_spins_total{outcome="${outcome}",daemon="relay"}`) ?? NaN);
    assert.ok(spins[0] + spins[1] >= 1, metrics);
    relay.child.kill('SIGUSR1');
    await new Promise((res) => setTimeout(res, 300));
    assert.match(relay.stderr(), /relay: counters: requests 2, replies 2,/);
    // tun-driver status asks it over its control socket (0600).
    const st = await lab.run('host-1', process.execPath, [CLI_PATH, 'status', '--json']);
    assert.equal(st.code, 0, st.stderr);
    const [s] = JSON.parse(st.stdout);
    assert.equal(s.mode, 'relay');
    assert.equal(s.device, 'tun19');
    assert.equal(s.counters.requests, 2);
    assert.equal(s.flowCount, 1);
    assert.equal(s.flows[0].src, '10.244.1.3');
    assert.equal(s.flows[0].dst, HOST2);
    assert.equal((await lab.run('host-2', process.execPath, [CLI_PATH, 'status'])).code, 2, 'another namespace sees no daemon');
    await relay.stop('SIGINT');
    const lines = relay.stdout().trim().split('\n').filter((l) => / ICMP echo /.test(l));
    assert.equal(lines.length, 4, relay.stdout());
    assert.match(lines[0], /tun>net IP 10\.244\.1\.3 > 198\.51\.100\.130: ICMP echo request, id \d+, seq 1, length 64/);
    assert.match(lines[1], /net>tun IP 198\.51\.100\.130 > 10\.244\.1\.3: ICMP echo reply, id \d+, seq 1, length 64/);
    assert.match(relay.stderr(), /stopping on SIGINT: requests 2, replies 2/);
  });

  test('8. bad flags exit 2 and change nothing; SIGKILL then restart works; SIGTERM removes the device', async () => {
    const links = async (): Promise<string> => (await sh('host-1', 'ip', '-o', 'link')).split('\n').map((l) => l.split(':')[1]).join(',');
    const before = await links();
    for (const [args, message] of [
      [['--address', '10.244.1.3/33'], /prefix length 33/],
      [['--address', '10.244.1.3/24', '--rp-filter', 'sometimes'], /argument 'sometimes' is invalid/],
      [['--address', '10.244.1.3/24', '--bind', '198.51.100.1', '--via', 'eth0'], /--bind or --via, not both/],
      [['--address', '10.244.1.3/24', '--bind', '192.0.2.77'], /--bind 192\.0\.2\.77: not an address of this host/],
      [[], /--address is required/],
    ] as Array<[string[], RegExp]>) {
      await assert.rejects(startRelay(lab, 'host-1', args), (err: { exitCode: number; stderr: string }) => {
        assert.equal(err.exitCode, 2, err.stderr);
        assert.match(err.stderr, message);
        return true;
      });
      assert.equal(await links(), before, `${args.join(' ')} left something behind`);
    }

    const first = await startRelay(lab, 'host-1', ['--address', '10.244.1.3/24', '--keep']);
    await assert.rejects(startRelay(lab, 'host-1', ['--address', '10.244.1.3/24']), /in use by another process/);
    await first.stop('SIGKILL');
    assert.match(await links(), /tun19/, 'a kept device survives SIGKILL (stale)');
    const second = await startRelay(lab, 'host-1', ['--address', '10.244.1.3/24']);
    const r = await ping(lab, 'host-1', ['-c', '2', '-i', '0.2', '-W', '2', '-I', 'tun19', HOST2]);
    assert.equal(r.received, 2, 'the restarted relay replaced the stale device');
    assert.equal(await second.stop('SIGTERM'), 0);
    assert.equal(await links(), before, 'SIGTERM removed the device it made');
  });

  test('--pcap records what crosses the TUN (tcpdump -r reads it), bounded; a doubled SIGTERM still shuts down cleanly', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tdlab-pcap-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const relay = await startRelay(lab, 'host-1', ['--address', '10.244.1.3/24', '--pcap', `${dir}/all.pcap`]);
    assert.equal((await ping(lab, 'host-1', ['-c', '2', '-i', '0.2', '-W', '2', '-I', 'tun19', HOST2])).received, 2);
    relay.child.kill('SIGTERM');
    relay.child.kill('SIGTERM'); // Ctrl-C twice, or a supervisor repeating itself
    assert.equal(await relay.stop(), 0);
    assert.match(relay.stderr(), /stopping on SIGTERM: requests 2, replies 2/);
    const read = await lab.run('host-1', 'tcpdump', ['-r', `${dir}/all.pcap`, '-nn']);
    const echoes = read.stdout.split('\n').filter((l) => / ICMP echo /.test(l));
    assert.equal(echoes.length, 4, read.stdout + read.stderr);
    assert.match(echoes[0], /IP 10\.244\.1\.3 > 198\.51\.100\.130: ICMP echo request, id \d+, seq 1, length 64/);
    assert.match(echoes[1], /IP 198\.51\.100\.130 > 10\.244\.1\.3: ICMP echo reply, id \d+, seq 1, length 64/);

    const bounded = await startRelay(lab, 'host-1', ['--address', '10.244.1.3/24', '--pcap', `${dir}/bounded.pcap`, '--pcap-max-mb', '1']);
    const flood = await ping(lab, 'host-1', ['-f', '-c', '1000', '-s', '1400', '-W', '2', '-I', 'tun19', HOST2], 60_000);
    assert.ok(flood.received > 900, flood.output);
    await bounded.stop();
    assert.match(bounded.stderr(), /reached 1 MB: recording stopped/);
    assert.ok(statSync(`${dir}/bounded.pcap`).size <= 1024 * 1024);
    const partial = await lab.run('host-1', 'tcpdump', ['-r', `${dir}/bounded.pcap`, '-nn']);
    assert.equal(partial.code, 0, 'the bounded file is still a valid capture');
    const recorded = partial.stdout.trim().split('\n').length;
    assert.ok(recorded > 500 && recorded < 2000, `${recorded} packets recorded before the bound`);
  });

  test('its TUN deleted under it, the relay says so, cleans up and exits 1 (no silent zombie)', async () => {
    const relay = await startRelay(lab, 'host-1', ['--address', '10.244.1.3/24']);
    await sh('host-1', 'ip', 'link', 'del', 'tun19');
    const code = await new Promise<number | null>((resolve) => {
      if (relay.child.exitCode !== null) resolve(relay.child.exitCode);
      else relay.child.on('exit', (c) => resolve(c));
      setTimeout(() => resolve(-1), 5000);
    });
    assert.equal(code, 1, relay.stderr());
    assert.match(relay.stderr(), /relaying between tun19 and the network failed: .*; stopping/);
    // The last line says what happened, not the signal the daemon sent itself.
    assert.match(relay.stderr(), /stopping after an error \(relaying between tun19 and the network failed: .*\): requests/);
    assert.doesNotMatch(relay.stderr(), /stopping on SIGTERM/);
  });
});
