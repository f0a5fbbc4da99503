// The relay in IPv6, against real ping -6 and traceroute -6 in a
// dual-stack lab: host-1 runs the relay, host-3 shares its segment, host-2
// sits behind router-1 on a segment whose MTU is 1,400 (so Packet Too Big
// happens on the way).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import { Lab } from '../../src/lab/lab.js';
import { probePath } from '../../src/watch/path-probe.js';
import { validateTopology } from '../../src/lab/topology.js';
import { ping, startRelay, RelayRun } from '../../harness/daemon-harness.js';
import { labName, ROOT_SKIP } from './helpers.js';

const HOST2 = '2001:db8:b::2';
const HOST3 = '2001:db8:a::2';
const RELAY_HOST = '2001:db8:a::1';
const ROUTER = '2001:db8:a::fe';
const CLI_PATH = new URL('../../src/cli/main.js', import.meta.url).pathname;
const DUAL = ['--address', '10.244.1.3/24', '--address', 'fd00:1::3/64', '--json-log'];

let lab: Lab;

function topology(name: string) {
  return validateTopology({
    name,
    segments: [
      { name: 'lan-a', subnet: '198.51.100.0/25', subnet6: '2001:db8:a::/64' },
      { name: 'lan-b', subnet: '198.51.100.128/25', subnet6: '2001:db8:b::/64', mtu: 1400 },
    ],
    hosts: [
      { name: 'host-1', segment: 'lan-a', address: '198.51.100.1', address6: RELAY_HOST },
      { name: 'host-3', segment: 'lan-a', address: '198.51.100.2', address6: HOST3 },
      { name: 'host-2', segment: 'lan-b', address: '198.51.100.130', address6: HOST2 },
    ],
    routers: [{ name: 'router-1', interfaces: [{ segment: 'lan-a', address: '198.51.100.126', address6: ROUTER }, { segment: 'lan-b', address: '198.51.100.254', address6: '2001:db8:b::fe' }] }],
  });
}

/** The IPv6 engine's counters from the relay's JSON exit line (under `ipv6` when the relay is dual-stack). */
function exitCounters6(run: RelayRun): Record<string, any> {
  const line = run.stderr().split('\n').filter((l) => l.includes('"stopping on')).pop();
  assert.ok(line, `no exit counters in: ${run.stderr()}`);
  const fields = JSON.parse(line);
  return fields.ipv6?.counters ?? fields.counters;
}

const escaped = (s: string): string => s.replace(/[.:]/g, (c) => `\\${c}`);

/** doctor's finding about device-bound IPv6 on tun19 (host-1). */
async function ipv6RouteFinding(): Promise<{ status: string; evidence: string; fix?: string }> {
  const r = await lab.run('host-1', process.execPath, [CLI_PATH, 'doctor', '--tun', 'tun19', '--json']);
  const finding = (JSON.parse(r.stdout) as Array<{ check: string; status: string; evidence: string; fix?: string }>).find((f) => f.check === 'tun19 IPv6 route');
  assert.ok(finding, r.stdout + r.stderr);
  return finding;
}

describe('tun-driver relay, IPv6', { skip: ROOT_SKIP }, () => {
  before(async () => {
    lab = await Lab.up(topology(labName('relay6')));
  });
  after(async () => {
    await lab?.down();
  });

  test('1. ping -6 -I tun19 works for payloads 0, 56, 1000, 3000 and 65,000 (fragmented both ways), beside IPv4 on the same TUN', async () => {
    const relay = await startRelay(lab, 'host-1', DUAL);
    try {
      for (const size of [0, 56, 1000, 3000, 65000]) {
        // HOST3 shares lan-a (MTU 1500): the 3000- and 65,000-byte requests and replies cross it in fragments.
        const r = await ping(lab, 'host-1', ['-6', '-c', '3', '-i', '0.2', '-W', '2', '-s', String(size), '-I', 'tun19', HOST3]);
        assert.equal(r.received, 3, `-s ${size}: ${r.output}`);
        assert.equal(r.duplicates, 0, `-s ${size}: ${r.output}`);
        assert.deepEqual(r.replySizes, [size + 8, size + 8, size + 8], `-s ${size}: whole replies`);
        assert.doesNotMatch(r.output, /truncated|wrong data|wrong byte/);
      }
      const v4 = await ping(lab, 'host-1', ['-c', '2', '-i', '0.2', '-W', '2', '-I', 'tun19', '198.51.100.130']);
      assert.equal(v4.received, 2, `IPv4 beside IPv6: ${v4.output}`);
    } finally {
      await relay.stop();
    }
    const c = exitCounters6(relay);
    assert.equal(c.replies, 15);
    assert.ok(c.reassembled >= 3, 'the 3000-byte requests came out of the TUN in fragments and were reassembled');
    assert.ok(c.repliesFragmented >= 3, 'the 3008-byte replies went into the TUN in fragments');
    assert.ok(c.linkChatter >= 1, "the kernel's router solicitations and MLD reports into the TUN were counted, not relayed");
  });

  test('2. Packet Too Big from a router is relayed with its MTU, and the pinger then gets through', async () => {
    const relay = await startRelay(lab, 'host-1', DUAL);
    try {
      // 1372 + 8 + 40 = 1420 bytes: fits the TUN and lan-a, not lan-b (1400).
      const r = await ping(lab, 'host-1', ['-6', '-c', '3', '-i', '0.3', '-W', '2', '-s', '1372', '-I', 'tun19', HOST2]);
      assert.match(r.output, new RegExp(`From ${escaped(ROUTER)} icmp_seq=1 Packet too big: mtu=1400`), r.output);
      assert.equal(r.received, 2, `after the Packet Too Big, the path MTU is honoured: ${r.output}`);
    } finally {
      await relay.stop();
    }
    assert.ok(exitCounters6(relay).packetTooBig >= 1);
  });

  test('3. errors come back as on a normal host, and traceroute -6 -I completes', async (t) => {
    const relay = await startRelay(lab, 'host-1', [...DUAL, '--trace']);
    try {
      const hop1 = await ping(lab, 'host-1', ['-6', '-c', '1', '-W', '3', '-t', '1', '-I', 'tun19', HOST2]);
      assert.match(hop1.output, new RegExp(`From ${escaped(ROUTER)} icmp_seq=1 Time exceeded: Hop limit`), hop1.output);
      const noRoute = await ping(lab, 'host-1', ['-6', '-c', '1', '-W', '3', '-I', 'tun19', '2001:db8:c::1']);
      assert.match(noRoute.output, new RegExp(`From ${escaped(ROUTER)} icmp_seq=1 Destination unreachable: No route`), noRoute.output);
      // Neighbour discovery on host-1 itself fails: the error has host-1's
      // address, which would be a martian in the TUN, so it comes from the destination.
      const noNeighbour = await ping(lab, 'host-1', ['-6', '-c', '1', '-W', '5', '-I', 'tun19', '2001:db8:a::99']);
      assert.match(noNeighbour.output, /From 2001:db8:a::99 icmp_seq=1 Destination unreachable: Address unreachable/, noNeighbour.output);
      // In one CI run of 2026-12-01 (commit cca7e5e) no reply for hops 2-5 came back within the wait, cause unknown;
      // never here in 18 runs of this test (6 alone, 12 of the file under a two-core busy loop). So a run missing the
      // destination is reported with the relay's per-packet trace and tried once more; two misses fail.
      const traceroute = async () => {
        const traceFrom = relay.stdout().length;
        const tr = await lab.run('host-1', 'traceroute', ['-6', '-I', '-n', '-q', '1', '-w', '3', '-m', '5', '-i', 'tun19', HOST2]);
        assert.equal(tr.code, 0, tr.stderr);
        const hops = tr.stdout.trim().split('\n').slice(1).map((l) => l.trim().split(/\s+/).slice(0, 2));
        return { hops, report: `${tr.stdout}\nthe relay's trace:\n${relay.stdout().slice(traceFrom)}` };
      };
      const expected = [['1', ROUTER], ['2', HOST2]];
      let tr = await traceroute();
      if (!isDeepStrictEqual(tr.hops, expected)) {
        t.diagnostic(`traceroute missed, tried again; the first run:\n${tr.report}`);
        tr = await traceroute();
      }
      assert.deepEqual(tr.hops, expected, tr.report);
    } finally {
      await relay.stop();
    }
    assert.ok(exitCounters6(relay).errorsRelayed >= 4);
  });

  test('4. concurrent pingers from two sources, same identifier, same destination, and a third host pinging the relay host: no DUP!', async () => {
    const relay = await startRelay(lab, 'host-1', DUAL);
    try {
      // A second pinger address, and a rule that sends both sources' traffic into the TUN.
      // Each ping binds its raw socket to its source address, so it sees only the replies to it.
      await lab.run('host-1', 'ip', ['-6', 'addr', 'add', 'fd00:1::4/64', 'dev', 'tun19', 'nodad']);
      await lab.run('host-1', 'ip', ['-6', 'route', 'add', 'default', 'dev', 'tun19', 'table', '100']);
      await lab.run('host-1', 'ip', ['-6', 'rule', 'add', 'from', 'fd00:1::/64', 'lookup', '100']);
      const [a, b, third] = await Promise.all([
        ping(lab, 'host-1', ['-6', '-c', '30', '-i', '0.02', '-W', '2', '-e', '777', '-I', 'fd00:1::3', HOST2]),
        ping(lab, 'host-1', ['-6', '-c', '30', '-i', '0.02', '-W', '2', '-e', '777', '-I', 'fd00:1::4', HOST2]),
        ping(lab, 'host-3', ['-6', '-c', '30', '-i', '0.02', '-W', '2', RELAY_HOST]),
      ]);
      // A ping's raw socket sees every ICMPv6 packet of the host until ping binds it to its source: the pinger that starts
      // second can queue the other's first reply (same identifier, seq 1) and print it as its own, then a DUP!. Captured
      // on 2026-12-01 (1 run in ~20 under CPU load): the relay's --trace showed one reply per request, the wire one request
      // each; the copies were the other pinger's (relay.test.ts's IPv4 twin met the same). So the first seqs may be doubled
      // by ping itself, as there; any later DUP is the relay's, and its own count below (60 replies for 60 requests) holds for every seq.
      const all = [a, b, third].map((r, k) => `--- ${['fd00:1::3', 'fd00:1::4', 'host-3'][k]}\n${r.output}`).join('\n');
      for (const r of [a, b, third]) {
        assert.equal(r.received, 30, all);
        const doubled = r.seqs.filter((seq, k) => r.seqs.indexOf(seq) !== k);
        assert.ok(doubled.every((seq) => seq <= 3), `DUP! past startup: seqs ${doubled.join(' ')}\n${all}`);
        assert.deepEqual([...new Set(r.seqs)].sort((x, y) => x - y), Array.from({ length: 30 }, (_, k) => k + 1));
      }
    } finally {
      await lab.run('host-1', 'ip', ['-6', 'rule', 'del', 'from', 'fd00:1::/64', 'lookup', '100']);
      await relay.stop();
    }
    const c = exitCounters6(relay);
    assert.equal(c.requests, 60, "the third host's echo requests never left as relayed requests");
    assert.equal(c.replies, 60);
    assert.equal(c.ownCopies, 60, 'each reply written into the TUN was seen once more by the raw socket, and skipped');
  });

  test('5. TCP and UDP over IPv6 never leave as ICMPv6: refused as a filtering router would, fast', async () => {
    const relay = await startRelay(lab, 'host-1', DUAL);
    try {
      await lab.run('host-1', 'ip', ['-6', 'route', 'add', 'default', 'dev', 'tun19', 'table', '100']);
      await lab.run('host-1', 'ip', ['-6', 'rule', 'add', 'from', 'fd00:1::3', 'lookup', '100']);
      const script = `
        const net = require('node:net'), dgram = require('node:dgram');
        const s = net.connect({ host: '${HOST2}', port: 80, localAddress: 'fd00:1::3' });
        s.on('connect', () => { console.log('tcp connected?!'); process.exit(1); });
        s.on('error', (e) => {
          console.log('tcp', e.code);
          const u = dgram.createSocket('udp6');
          u.bind({ address: 'fd00:1::3' }, () => u.connect(9, '${HOST2}', () => {
            u.on('error', (e2) => { console.log('udp', e2.code); process.exit(0); });
            u.send('x'); setTimeout(() => u.send('y'), 200);
            setTimeout(() => { console.log('udp no error'); process.exit(0); }, 2000);
          }));
        });
        setTimeout(() => { console.log('tcp timeout'); process.exit(1); }, 5000);`;
      const r = await lab.run('host-1', process.execPath, ['-e', script]);
      assert.match(r.stdout, /^tcp EACCES$/m, r.stdout + r.stderr);
      assert.match(r.stdout, /^udp EACCES$/m, r.stdout + r.stderr);
    } finally {
      await lab.run('host-1', 'ip', ['-6', 'rule', 'del', 'from', 'fd00:1::3', 'lookup', '100']);
      await relay.stop();
    }
    assert.ok(exitCounters6(relay).errorsGenerated >= 2);
  });

  test('6. an IPv6-only relay: status shows it, and stopping removes its rule and device', async () => {
    const relay = await startRelay(lab, 'host-1', ['--address', 'fd00:1::3/64', '--json-log']);
    try {
      const rules = await lab.run('host-1', 'ip', ['-6', 'rule', 'show']);
      assert.match(rules.stdout, /^1000:\s+from all oif tun19 lookup \d+/m, 'the rule that routes device-bound IPv6 into the TUN');
      const r = await ping(lab, 'host-1', ['-6', '-c', '2', '-i', '0.2', '-W', '2', '-I', 'tun19', HOST3]);
      assert.equal(r.received, 2, r.output);
      const st = await lab.run('host-1', process.execPath, [CLI_PATH, 'status', '--json']);
      assert.equal(st.code, 0, st.stderr);
      const [s] = JSON.parse(st.stdout);
      assert.equal(s.subnet, 'fd00:1::3/64');
      assert.equal(s.counters.replies, 2);
      assert.deepEqual(s.flows.map((f: { src: string; dst: string }) => [f.src, f.dst]), [['fd00:1::3', HOST3]]);
      assert.equal((await ipv6RouteFinding()).status, 'ok', 'doctor sees the rule and table the relay installed');
    } finally {
      await relay.stop();
    }
    // A TUN with an IPv6 address and no relay: doctor explains why ping -6 -I fails, with the fix.
    const made = await lab.run('host-1', process.execPath, [CLI_PATH, 'tun', 'add', 'tun19', '--address', 'fd00:1::3/64']);
    assert.equal(made.code, 0, made.stderr);
    try {
      const finding = await ipv6RouteFinding();
      assert.equal(finding.status, 'problem');
      assert.match(finding.evidence, /connect: Network is unreachable/);
      assert.match(finding.fix!, /^ip -6 rule add oif tun19 lookup \d+ priority 1000 && ip -6 route add default dev tun19 table \d+$/);
    } finally {
      await lab.run('host-1', process.execPath, [CLI_PATH, 'tun', 'del', 'tun19']);
    }
    const rules = await lab.run('host-1', 'ip', ['-6', 'rule', 'show']);
    assert.doesNotMatch(rules.stdout, /tun19/, 'the rule is gone');
    const link = await lab.run('host-1', 'ip', ['link', 'show', 'tun19']);
    assert.notEqual(link.code, 0, 'the device is gone');
  });

  test("8. doctor's live probe and the lab page's probe in IPv6 through a dual-stack relay: every stage; IPv4 still probes on the same relay", async () => {
    const relay = await startRelay(lab, 'host-1', DUAL);
    try {
      const live = async (target: string): Promise<{ status: string; evidence: string }> => {
        const r = await lab.run('host-1', process.execPath, [CLI_PATH, 'doctor', '--tun', 'tun19', '--json', '--probe', target]);
        return (JSON.parse(r.stdout) as Array<{ check: string; status: string; evidence: string }>).find((f) => f.check === 'tun19 live probe')!;
      };
      const v6 = await live(HOST3);
      assert.equal(v6.status, 'ok', v6.evidence);
      assert.match(v6.evidence, /^ping -e \d+ -I tun19 \S+: read from the TUN by the daemon .*sent to the network .*answer received from the network .*answer written into the TUN .*-> answer delivered to ping by the kernel$/);
      const v4 = await live('198.51.100.130');
      assert.equal(v4.status, 'ok', v4.evidence);
      const path = await probePath(lab.name, 'host-1', HOST3);
      assert.equal(path.kind, 'relay');
      assert.deepEqual(path.hops.map((h) => h.status), ['passed', 'passed', 'passed', 'passed', 'passed'], JSON.stringify(path.hops));
    } finally {
      await relay.stop();
    }
  });

  test('9. --bind with an IPv6 address: requests leave from it (the destination sees it), replies still reach the pinger', async () => {
    const extra = '2001:db8:a::99';
    assert.equal((await lab.run('host-1', 'ip', ['-6', 'addr', 'add', `${extra}/64`, 'dev', 'eth0', 'nodad'])).code, 0);
    const relay = await startRelay(lab, 'host-1', [...DUAL, '--bind', extra, '--bind', '198.51.100.1']);
    try {
      const seen = lab.run('host-3', 'timeout', ['4', 'tcpdump', '-i', 'eth0', '-nn', '-l', '-c', '2', 'icmp6 and ip6[40] == 128'], 10_000);
      await new Promise((r) => setTimeout(r, 500));
      const r = await ping(lab, 'host-1', ['-6', '-c', '2', '-i', '0.2', '-W', '2', '-I', 'tun19', HOST3]);
      assert.equal(r.received, 2, r.output);
      const sources = (await seen).stdout.trim().split('\n').map((l) => / IP6 (\S+) > /.exec(l)?.[1]);
      assert.deepEqual(sources, [extra, extra], 'the echo requests left from the --bind address');
      assert.match(relay.stderr(), /from 2001:db8:a::99 and 198\.51\.100\.1/);
    } finally {
      await relay.stop();
      await lab.run('host-1', 'ip', ['-6', 'addr', 'del', `${extra}/64`, 'dev', 'eth0']);
    }
  });

  test('7. bad IPv6 flags: one line, exit 2, nothing created', async () => {
    for (const [args, message] of [
      [['--address', 'fd00::1/127'], /prefix of \/126 or shorter/],
      [['--address', 'fd00::1/64', '--address', 'fd00::2/64'], /one IPv6 address only/],
      [['--address', 'fd00::1/64', '--mtu', '1200'], /below IPv6's minimum of 1280/],
      [['--address', 'ff02::1/64'], /multicast/],
      [['--address', 'fd00::zz/64'], /not an IPv6 address/],
      [['--address', 'fd00::1/64', '--bind', 'nonsense'], /--bind nonsense: not an IPv4 or IPv6 address/],
      [['--address', 'fd00::1/64', '--bind', '2001:db8:a::1', '--bind', '2001:db8:a::3'], /one IPv6 --bind only/],
      [['--address', 'fd00::1/64', '--bind', '2001:db8:ff::1'], /--bind 2001:db8:ff::1: not an address of this host/],
    ] as const) {
      const r = await lab.run('host-1', process.execPath, [CLI_PATH, 'relay', ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
    const link = await lab.run('host-1', 'ip', ['link', 'show', 'tun19']);
    assert.notEqual(link.code, 0, 'no device was made');
  });
});
