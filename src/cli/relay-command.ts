// `tun-driver relay`: the seed article's tun-driver, done right.
import { Command, Option } from 'commander';
import { RelayStatus } from '../control/daemon-status.js';
import { TunDriverError } from '../errors.js';
import { createLogger } from '../log.js';
import { addrList } from '../netlink/addr.js';
import { NetlinkSocket } from '../netlink/socket.js';
import { formatCidr, parseCidr, parseIPv4, Prefix } from '../packet/addr.js';
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
  address?: string;
  bind?: string;
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
    .option('--address <cidr>', 'TUN address and prefix, e.g. 10.244.1.3/24 (with --attach: taken from the device)')
    .option('--bind <addr>', 'send from this address of the host')
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
  tun-driver relay --tun tun19 --attach --via eth0 --trace
  tun-driver lab exec host-1 -- tun-driver relay --address 10.244.1.3/24

Runs until SIGINT/SIGTERM, then prints its counters, restores what it changed
and removes the device it created (unless --keep). SIGUSR1 prints the counters.`)
    .action(runRelay);
}

async function runRelay(flags: RelayFlags): Promise<void> {
  // All input is checked before anything on the system changes.
  checkInterfaceName(flags.tun);
  const ioWait = parseIoWait(flags.ioWait);
  if (flags.bind && flags.via) throw usageError('give --bind or --via, not both');
  const parseAddress = (flag: string, text: string): Prefix => {
    try {
      return parseCidr(text);
    } catch (err) {
      throw usageError(`${flag} ${(err as Error).message}`);
    }
  };
  let subnet = flags.address ? parseAddress('--address', flags.address) : undefined;
  if (!subnet && !flags.attach) throw usageError('--address is required (e.g. --address 10.244.1.3/24), unless --attach uses an existing device');
  if (subnet && subnet.length > 30) throw usageError(`--address ${flags.address}: use a prefix of /30 or shorter, so pingers and the TUN share a subnet`);
  const bind = flags.bind === undefined ? undefined : parseIPv4(flags.bind);
  if (flags.bind !== undefined && bind === undefined) throw usageError(`--bind ${flags.bind}: not an IPv4 address`);
  if (flags.via !== undefined) checkInterfaceName(flags.via);
  const mtu = flags.mtu === undefined ? undefined : intOption('--mtu', flags.mtu, MIN_MTU, MAX_MTU);
  if (flags.attach && mtu !== undefined) throw usageError('--mtu applies only when the relay creates the device (not with --attach)');
  const maxFlows = intOption('--max-flows', flags.maxFlows, 1, 1 << 20);
  const pcapBytes = captureLimit(flags);
  const metricsAt = metricsListen(flags.metrics);
  const log = createLogger('relay', { json: flags.jsonLog });

  const host = new DaemonHost(flags.tun, log, metricsAt);
  await host.run(async ({ undo }) => {
    let tun: LinuxTun;
    const nl = NetlinkSocket.open();
    let localAddresses: Set<number>;
    try {
      tun = flags.attach
        ? LinuxTun.attach(flags.tun)
        : LinuxTun.create({ name: flags.tun, addresses: [subnet!], mtu, persist: flags.keep, replace: 'if-stale' });
      if (flags.attach && !subnet) {
        const own = addrList(nl, tun.index)[0];
        if (!own) {
          tun.close({ remove: false });
          throw new TunDriverError('TUN_ERR_USAGE', `${flags.tun} has no IPv4 address: give --address or add one (tun-driver tun add ... --address)`);
        }
        subnet = own.prefix;
      }
      localAddresses = new Set(addrList(nl).map((a) => a.prefix.address));
    } finally {
      nl.close();
    }
    const created = !flags.attach;
    undo.push(() => tun.close({ remove: created && !flags.keep }));
    const net = RawIcmpSocket.open({ bind, via: flags.via });
    undo.push(() => net.close());
    undo.push(applyRpFilter(flags.tun, flags.rpFilter, log));
    const device = tun.describe();
    let relay: IcmpRelay | undefined;
    const metrics = daemonMetrics(metricsAt, {
      daemon: 'relay',
      traffic: () => ({
        tunToNet: { packets: relay!.counters.requests, bytes: relay!.counters.requestBytes },
        netToTun: { packets: relay!.counters.replies + relay!.counters.errorsRelayed + relay!.counters.errorsGenerated, bytes: relay!.counters.replyBytes },
      }),
      drops: () => relay!.counters.drops.toJSON(),
      active: () => relay!.flows.size,
    });
    const engine = new IcmpRelay(withCapture(tun, flags, pcapBytes, log, undo), net, { subnet: subnet!, tunMtu: device.mtu, localAddresses, maxFlows, trace: traceWriter(flags.trace), batchObserver: metrics?.observeBatch });
    relay = engine;
    const loop = ioWaitLoop(ioWait);
    engine.start(stopOnIoError(log, `relaying between ${flags.tun} and the network`), loop);
    undo.push(() => engine.stop());
    const rates = new RateMeter();
    return {
      probeTarget: engine,
      metrics,
      status: () => ({ ...relayStatus(engine, subnet!, rates), ioWait: ioWaitStatus(loop) }),
      sample: () => rates.sample('all', [engine.counters.requests, engine.counters.replies]),
      report: () => ({ text: `${engine.counters.format()}; flows ${engine.flows.size}`, fields: { counters: engine.counters.toJSON(), flows: engine.flows.size } }),
      ready: () => ({
        text: `relaying ICMP echo between ${flags.tun} (${formatCidr(subnet!)}, mtu ${device.mtu}) and the host network${flags.via ? ` via ${flags.via}` : ''}${flags.bind ? ` from ${flags.bind}` : ''}; try: ping -I ${flags.tun} <host>`,
        fields: { tun: flags.tun, subnet: formatCidr(subnet!), mtu: device.mtu },
      }),
    };
  });
}

/** What `tun-driver status` shows for a relay: counters, rates and the busiest flows. */
function relayStatus(relay: IcmpRelay, subnet: Prefix, rates: RateMeter): RelayStatus {
  const [requestsPerSecond = 0, repliesPerSecond = 0] = rates.rates.get('all') ?? [];
  const now = Date.now();
  const flows = relay.flows.list().sort((a, b) => b.requests - a.requests);
  return {
    mode: 'relay',
    subnet: formatCidr(subnet),
    counters: relay.counters.toJSON(),
    rates: { requestsPerSecond, repliesPerSecond },
    flowCount: flows.length,
    flows: flows.slice(0, 50).map((f) => ({
      src: ip4(f.src), dst: ip4(f.dst), id: f.id, outId: f.outId, requests: f.requests, replies: f.replies, errors: f.errors, idleSeconds: Math.round((now - f.lastSeen) / 1000),
    })),
  };
}
