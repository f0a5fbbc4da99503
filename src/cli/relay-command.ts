// `tun-driver relay`: the tutorial's tun-driver, done right.
import { Command, Option } from 'commander';
import { RelayStatus } from '../control/daemon-status.js';
import { TunDriverError } from '../errors.js';
import { createLogger } from '../log.js';
import { addr6List, addrList } from '../netlink/addr.js';
import { NetlinkSocket } from '../netlink/socket.js';
import { formatCidr, parseIPv4, Prefix } from '../packet/addr.js';
import { formatCidr6, formatIPv6, parseIPv6, Prefix6 } from '../packet/addr6.js';
import { Flow } from '../relay/flow-table.js';
import { Icmp6Relay } from '../relay/relay6.js';
import { RawIcmp6Socket } from '../relay/raw-icmp6-socket.js';
import { installTunRoute6 } from '../relay/tun-route6.js';
import { IPV6_MIN_MTU, parseAddressFlags } from './tun-commands.js';
import { IcmpRelay } from '../relay/relay.js';
import { RawIcmpSocket } from '../relay/raw-icmp-socket.js';
import { applyRpFilter, RP_FILTER_MODES, RpFilterMode } from '../relay/rp-filter.js';
import { checkInterfaceName, LinuxTun, MAX_MTU, MIN_MTU } from '../tun/linux-tun.js';
import { intOption, usageError } from './output.js';
import { RateMeter } from '../control/rates.js';
import { addMetricsOption, daemonMetrics, metricsListen } from './metrics-option.js';
import { formatIPv4 as ip4 } from '../packet/addr.js';
import { addCaptureOptions, captureLimit, CaptureFlags, withCapture } from './capture.js';
import { stopOnIoError, traceWriter } from './daemon.js';
import { DaemonHost } from './daemon-host.js';
import { addIoWaitOption, ioWaitLoop, ioWaitStatus, parseIoWait } from './io-wait-option.js';

interface RelayFlags extends CaptureFlags {
  metrics?: string;
  tun: string;
  address: string[];
  bind: string[];
  via?: string;
  attach?: boolean;
  keep?: boolean;
  rpFilter: RpFilterMode;
  trace?: boolean;
  jsonLog?: boolean;
  mtu?: string;
  maxFlows: string;
  ioWait: string;
}

export function relayCommand(): Command {
  return addIoWaitOption(addMetricsOption(addCaptureOptions(new Command('relay'))))
    .description('relay ICMP echo (ping, traceroute -I) between a TUN device and the host network')
    .option('--tun <name>', 'TUN device name', 'tun19')
    .option('--address <cidr>', 'TUN address and prefix, e.g. 10.244.1.3/24 or fd00:10:244:1::3/64; one of each family relays both (with --attach: taken from the device)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--bind <addr>', 'send requests from this address of the host: one IPv4 and one IPv6 at most, e.g. --bind 198.51.100.1 --bind 2001:db8:a::1', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--via <iface>', 'send through this interface only (SO_BINDTODEVICE)')
    .option('--attach', 'use an existing TUN (made with `tun-driver tun add`) instead of creating one')
    .option('--keep', 'leave the TUN device in place at exit')
    .addOption(new Option('--rp-filter <mode>', 'strict reverse-path filtering drops the replies: fix (loosen it on the TUN until exit), check (only warn), off').choices(RP_FILTER_MODES).default('fix'))
    .option('--mtu <n>', `TUN MTU (${MIN_MTU}-${MAX_MTU}) when creating it`)
    .option('--max-flows <n>', 'bound on concurrent pinger flows', '4096')
    .option('--trace', 'print one tcpdump-like line per packet on stdout')
    .option('--json-log', 'log JSON lines instead of text')
    .addHelpText('after', `
Examples:
  tun-driver relay --tun tun19 --address 10.244.1.3/24          # then: ping -I tun19 <host>
  tun-driver relay --address 10.244.1.3/24 --address fd00:10:244:1::3/64
                                                   # and: ping -6 -I tun19 <IPv6 host>
  tun-driver relay --tun tun19 --attach --via eth0 --trace
  tun-driver lab exec host-1 -- tun-driver relay --address 10.244.1.3/24

Runs until SIGINT/SIGTERM, then prints its counters, restores what it changed
and removes the device it created (unless --keep). SIGUSR1 prints the counters.`)
    .action(runRelay);
}

/** The TUN's prefix of each family, from --address or (with --attach) from the device. */
interface RelaySubnets {
  v4?: Prefix;
  v6?: Prefix6;
}

function subnetsFromFlags(values: string[]): RelaySubnets {
  const subnets: RelaySubnets = {};
  for (const [i, p] of parseAddressFlags(values).entries()) {
    if (p.family === 4) {
      if (subnets.v4) throw usageError(`--address ${values[i]}: one IPv4 address only (the relay's IPv4 subnet is already ${formatCidr(subnets.v4)})`);
      if (p.prefix.length > 30) throw usageError(`--address ${values[i]}: use a prefix of /30 or shorter, so pingers and the TUN share a subnet`);
      subnets.v4 = p.prefix;
    } else {
      if (subnets.v6) throw usageError(`--address ${values[i]}: one IPv6 address only (the relay's IPv6 subnet is already ${formatCidr6(subnets.v6)})`);
      if (p.prefix.length > 126) throw usageError(`--address ${values[i]}: use a prefix of /126 or shorter, so pingers and the TUN share a subnet`);
      subnets.v6 = p.prefix;
    }
  }
  return subnets;
}

/** With --attach and no --address: the device's first IPv4 and first global IPv6 address. */
function subnetsOfDevice(nl: NetlinkSocket, index: number): RelaySubnets {
  return { v4: addrList(nl, index)[0]?.prefix, v6: addr6List(nl, index).find((a) => a.scope === 0)?.prefix };
}

/** --bind, repeated: the IPv4 and the IPv6 source, at most one of each. */
function bindFlags(values: string[]): { bind?: number; bind6?: Uint8Array } {
  const out: { bind?: number; bind6?: Uint8Array } = {};
  for (const text of values) {
    const v4 = parseIPv4(text);
    const v6 = v4 === undefined ? parseIPv6(text) : undefined;
    if (v4 === undefined && !v6) throw usageError(`--bind ${text}: not an IPv4 or IPv6 address`);
    if (v4 !== undefined) {
      if (out.bind !== undefined) throw usageError(`--bind ${text}: one IPv4 --bind only`);
      out.bind = v4;
    } else {
      if (out.bind6) throw usageError(`--bind ${text}: one IPv6 --bind only`);
      out.bind6 = v6;
    }
  }
  return out;
}

async function runRelay(flags: RelayFlags): Promise<void> {
  // All input is checked before anything on the system changes.
  checkInterfaceName(flags.tun);
  const ioWait = parseIoWait(flags.ioWait);
  if (flags.bind.length && flags.via) throw usageError('give --bind or --via, not both');
  let subnets = subnetsFromFlags(flags.address);
  if (!subnets.v4 && !subnets.v6 && !flags.attach) throw usageError('--address is required (e.g. --address 10.244.1.3/24 --address fd00:10:244:1::3/64), unless --attach uses an existing device');
  const { bind, bind6 } = bindFlags(flags.bind);
  if (flags.via !== undefined) checkInterfaceName(flags.via);
  const mtu = flags.mtu === undefined ? undefined : intOption('--mtu', flags.mtu, MIN_MTU, MAX_MTU);
  if (flags.attach && mtu !== undefined) throw usageError('--mtu applies only when the relay creates the device (not with --attach)');
  if (subnets.v6 && mtu !== undefined && mtu < IPV6_MIN_MTU) throw usageError(`--mtu ${mtu} is below IPv6's minimum of ${IPV6_MIN_MTU}: give at least ${IPV6_MIN_MTU} with an IPv6 --address`);
  const maxFlows = intOption('--max-flows', flags.maxFlows, 1, 1 << 20);
  const pcapBytes = captureLimit(flags);
  const metricsAt = metricsListen(flags.metrics);
  const log = createLogger('relay', { json: flags.jsonLog });

  const host = new DaemonHost(flags.tun, log, metricsAt);
  await host.run(async ({ undo }) => {
    let tun: LinuxTun;
    const nl = NetlinkSocket.open();
    let localAddresses: Set<number>;
    let localAddresses6: Set<string>;
    try {
      const given = [subnets.v4, subnets.v6].filter((p) => p !== undefined);
      tun = flags.attach ? LinuxTun.attach(flags.tun) : LinuxTun.create({ name: flags.tun, addresses: given, mtu, persist: flags.keep, replace: 'if-stale' });
      if (flags.attach && given.length === 0) {
        subnets = subnetsOfDevice(nl, tun.index);
        if (!subnets.v4 && !subnets.v6) {
          tun.close({ remove: false });
          throw new TunDriverError('TUN_ERR_USAGE', `${flags.tun} has no IPv4 or global IPv6 address: give --address or add one (tun-driver tun add ... --address)`);
        }
      }
      localAddresses = new Set(addrList(nl).map((a) => a.prefix.address));
      localAddresses6 = new Set(addr6List(nl).map((a) => formatIPv6(a.prefix.address)));
      const created = !flags.attach;
      undo.push(() => tun.close({ remove: created && !flags.keep }));
      if (subnets.v6) undo.push(installTunRoute6(nl, flags.tun, tun.index));
    } finally {
      nl.close();
    }
    undo.push(applyRpFilter(flags.tun, flags.rpFilter, log));
    const device = tun.describe();
    const tunDevice = withCapture(tun, flags, pcapBytes, log, undo);
    let engine6: Icmp6Relay | undefined;
    let engine: IcmpRelay | undefined;
    const metrics = daemonMetrics(metricsAt, {
      daemon: 'relay',
      traffic: () => {
        const all = [engine?.counters, engine6?.counters].filter((c) => c !== undefined);
        const sum = (f: (c: (typeof all)[number]) => number): number => all.reduce((n, c) => n + f(c), 0);
        return {
          tunToNet: { packets: sum((c) => c.requests), bytes: sum((c) => c.requestBytes) },
          netToTun: { packets: sum((c) => c.replies + c.errorsRelayed + c.errorsGenerated), bytes: sum((c) => c.replyBytes) },
        };
      },
      drops: () => {
        // Both engines share reason names ('malformed', 'send-failed', ...): add them up.
        const all: Record<string, number> = {};
        for (const c of [engine?.counters, engine6?.counters]) for (const [reason, n] of Object.entries(c?.drops.toJSON() ?? {})) all[reason] = (all[reason] ?? 0) + n;
        return all;
      },
      active: () => (engine?.flows.size ?? 0) + (engine6?.flows.size ?? 0),
      ioWait: () => ioWaitStatus(loop),
    });
    if (subnets.v6) {
      const net6 = RawIcmp6Socket.open({ bind: bind6, via: flags.via });
      undo.push(() => net6.close());
      engine6 = new Icmp6Relay(tunDevice, net6, { subnet: subnets.v6, tunMtu: device.mtu, localAddresses: localAddresses6, maxFlows, trace: traceWriter(flags.trace), batchObserver: metrics?.observeBatch });
    }
    if (subnets.v4) {
      const net = RawIcmpSocket.open({ bind, via: flags.via });
      undo.push(() => net.close());
      engine = new IcmpRelay(tunDevice, net, { subnet: subnets.v4, tunMtu: device.mtu, localAddresses, maxFlows, trace: traceWriter(flags.trace), ipv6: engine6, batchObserver: metrics?.observeBatch });
    }
    // The engine that reports at the top level of status and rates: IPv4's when there is one.
    const main = (engine ?? engine6)!;
    const loop = ioWaitLoop(ioWait);
    const onError = stopOnIoError(host.shutdown, log, `relaying between ${flags.tun} and the network`);
    engine6?.start(onError, loop, engine === undefined);
    undo.push(() => engine6?.stop());
    engine?.start(onError, loop);
    undo.push(() => engine?.stop());
    const rates = new RateMeter();
    const subnetText = [subnets.v4 && formatCidr(subnets.v4), subnets.v6 && formatCidr6(subnets.v6)].filter(Boolean).join(', ');
    const tryText = [subnets.v4 && `ping -I ${flags.tun} <host>`, subnets.v6 && `ping -6 -I ${flags.tun} <host>`].filter(Boolean).join(' or ');
    return {
      // doctor's live probe arms both engines: the one whose family the ping has marks its stages.
      probeTarget: {
        get probe() {
          return engine?.probe ?? engine6?.probe;
        },
        set probe(p) {
          if (engine) engine.probe = p;
          if (engine6) engine6.probe = p;
        },
      },
      metrics,
      status: () => ({ ...relayStatus(engine, engine6, subnets, rates), ioWait: ioWaitStatus(loop) }),
      sample: () => rates.sample('all', [main.counters.requests, main.counters.replies]),
      report: () => {
        const text = [engine && `${engine.counters.format()}; flows ${engine.flows.size}`, engine6 && `IPv6: ${engine6.counters.format()}; flows ${engine6.flows.size}`].filter(Boolean).join('; ');
        const fields = engine ? { counters: engine.counters.toJSON(), flows: engine.flows.size, ...(engine6 ? { ipv6: { counters: engine6.counters.toJSON(), flows: engine6.flows.size } } : {}) } : { counters: engine6!.counters.toJSON(), flows: engine6!.flows.size };
        return { text, fields };
      },
      ready: () => ({
        text: `relaying ICMP echo between ${flags.tun} (${subnetText}, mtu ${device.mtu}) and the host network${flags.via ? ` via ${flags.via}` : ''}${flags.bind.length ? ` from ${flags.bind.join(' and ')}` : ''}; try: ${tryText}`,
        fields: { tun: flags.tun, subnet: subnets.v4 ? formatCidr(subnets.v4) : formatCidr6(subnets.v6!), ...(subnets.v6 && subnets.v4 ? { subnet6: formatCidr6(subnets.v6) } : {}), mtu: device.mtu },
      }),
    };
  });
}

/** One engine's part of `tun-driver status`: counters, rates and the busiest flows. */
function engineStatus(relay: IcmpRelay | Icmp6Relay, subnet: string, rates: [number, number]): Omit<RelayStatus, 'mode' | 'ioWait' | 'ipv6'> {
  const now = Date.now();
  const flows = (relay.flows.list() as Array<Flow<number | string>>).sort((a, b) => b.requests - a.requests);
  const text = (a: number | string): string => (typeof a === 'number' ? ip4(a) : a);
  return {
    subnet,
    counters: relay.counters.toJSON(),
    rates: { requestsPerSecond: rates[0], repliesPerSecond: rates[1] },
    flowCount: flows.length,
    flows: flows.slice(0, 50).map((f) => ({
      src: text(f.src), dst: text(f.dst), id: f.id, outId: f.outId, requests: f.requests, replies: f.replies, errors: f.errors, idleSeconds: Math.round((now - f.lastSeen) / 1000),
    })),
  };
}

/** What `tun-driver status` shows for a relay: the IPv4 engine at the top level (or the IPv6 one when alone), the IPv6 one under `ipv6`. */
function relayStatus(engine: IcmpRelay | undefined, engine6: Icmp6Relay | undefined, subnets: RelaySubnets, rates: RateMeter): RelayStatus {
  const [requestsPerSecond = 0, repliesPerSecond = 0] = rates.rates.get('all') ?? [];
  if (!engine) return { mode: 'relay', ...engineStatus(engine6!, formatCidr6(subnets.v6!), [requestsPerSecond, repliesPerSecond]) };
  const status: RelayStatus = { mode: 'relay', ...engineStatus(engine, formatCidr(subnets.v4!), [requestsPerSecond, repliesPerSecond]) };
  if (engine6) status.ipv6 = engineStatus(engine6, formatCidr6(subnets.v6!), [0, 0]);
  return status;
}
