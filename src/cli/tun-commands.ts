// `tun-driver tun add|del|show`: the seed's "plan one", a TUN device made
// on its own and left for a relay to attach to.
import { Command } from 'commander';
import { queryStatus } from '../control/control-server.js';
import { listControlSockets } from '../control/paths.js';
import { TunDriverError } from '../errors.js';
import { Address, Address6, addr6List, addrList } from '../netlink/addr.js';
import { Link, linkByName, linkDelete, linkList } from '../netlink/link.js';
import { IFF } from '../netlink/nl/constants.js';
import { NetlinkSocket } from '../netlink/socket.js';
import { Prefix } from '../packet/addr.js';
import { AnyPrefix, formatIPv6, parseAnyCidr, Prefix6 } from '../packet/addr6.js';
import { checkInterfaceName, checkMtu, LinuxTun, MAX_MTU, MIN_MTU } from '../tun/linux-tun.js';
import { intOption, printJson, usageError } from './output.js';

export interface TunView {
  name: string;
  index: number;
  kind: string | null;
  state: string;
  flags: string[];
  mtu: number;
  addresses: string[];
  /** IPv6 addresses (`inet6` in `ip addr`), link-local ones included. */
  addresses6: string[];
  stats: Link['stats'] | null;
  /** TUN offloads as negotiated by the tun-driver daemon holding the device ("csum tso4 ..." or "off"); null when no daemon of ours holds it. */
  offloads?: string | null;
}

const FLAG_NAMES: Array<[number, string]> = [
  [IFF.UP, 'UP'], [IFF.LOWER_UP, 'LOWER_UP'], [IFF.POINTOPOINT, 'POINTOPOINT'], [IFF.NOARP, 'NOARP'], [IFF.MULTICAST, 'MULTICAST'],
];

export function tunView(link: Link, addresses: Address[], addresses6: Address6[] = []): TunView {
  const flags = FLAG_NAMES.filter(([bit]) => link.flags & bit).map(([, name]) => name);
  // Like `ip link`: an up device without carrier (a TUN nobody holds open) is NO-CARRIER.
  if (link.up && !link.lowerUp) flags.unshift('NO-CARRIER');
  return {
    name: link.name,
    index: link.index,
    kind: link.kind ?? null,
    state: link.operstate.toUpperCase(),
    flags,
    mtu: link.mtu,
    addresses: addresses.filter((a) => a.index === link.index).map((a) => a.cidr),
    addresses6: addresses6.filter((a) => a.index === link.index).map((a) => a.cidr),
    stats: link.stats ?? null,
  };
}

export function formatTunView(v: TunView): string {
  const s = v.stats;
  const lines = [`${v.index}: ${v.name}: <${v.flags.join(',')}> mtu ${v.mtu} state ${v.state}${v.kind ? ` kind ${v.kind}` : ''}`];
  for (const a of v.addresses) lines.push(`    inet ${a}`);
  for (const a of v.addresses6) lines.push(`    inet6 ${a}`);
  if (v.offloads !== undefined) lines.push(`    offloads ${v.offloads ?? 'unknown (no tun-driver daemon holds it)'}`);
  if (s) {
    lines.push(`    RX: packets ${s.rxPackets} bytes ${s.rxBytes} errors ${s.rxErrors} dropped ${s.rxDropped}`);
    lines.push(`    TX: packets ${s.txPackets} bytes ${s.txBytes} errors ${s.txErrors} dropped ${s.txDropped}`);
  }
  return lines.join('\n');
}

/** The offloads the daemon holding `device` negotiated, from its status; null when none of ours holds it. */
async function daemonOffloads(device: string): Promise<string | null> {
  const socket = listControlSockets().find((s) => s.device === device);
  if (!socket) return null;
  try {
    const status = (await queryStatus(socket.path, 1000)) as { offloads?: { tun?: string } };
    return status.offloads?.tun ?? 'off';
  } catch {
    return null;
  }
}

function withNetlink<T>(fn: (nl: NetlinkSocket) => T): T {
  const nl = NetlinkSocket.open();
  try {
    return fn(nl);
  } finally {
    nl.close();
  }
}

/** A TUN address must be one host's: not 0.0.0.0 (with /0 it routes everything into the TUN), multicast, broadcast or reserved. */
function checkUnicastAddress(text: string, p: Prefix): void {
  const first = p.address >>> 24;
  if (p.address === 0 || first === 0) throw usageError(`--address ${text}: 0.0.0.0/8 is not a host address (did you mean a subnet like 10.244.1.3/24?)`);
  if (first >= 224 && first <= 239) throw usageError(`--address ${text} is a multicast address: give a unicast one`);
  if (first >= 240) throw usageError(`--address ${text} is reserved or broadcast: give a unicast one`);
  if (first === 127) throw usageError(`--address ${text} is a loopback address: give one outside 127.0.0.0/8`);
}

/** The IPv6 twin: not ::, ::1 or multicast (ff00::/8). */
function checkUnicastAddress6(text: string, p: Prefix6): void {
  const canonical = formatIPv6(p.address);
  if (canonical === '::') throw usageError(`--address ${text}: :: is not a host address (did you mean a subnet like fd00:10:244:1::3/64?)`);
  if (canonical === '::1') throw usageError(`--address ${text} is the loopback address: give another`);
  if (p.address[0] === 0xff) throw usageError(`--address ${text} is a multicast address: give a unicast one`);
}

/**
 * Parses and checks repeated `--address` values of either family, refusing duplicates.
 * @throws TunDriverError `TUN_ERR_USAGE` naming the bad value.
 */
export function parseAddressFlags(values: string[]): AnyPrefix[] {
  const seen = new Set<string>();
  return values.map((text) => {
    let p: AnyPrefix;
    try {
      p = parseAnyCidr(text);
    } catch (err) {
      throw usageError(`--address ${(err as Error).message}`);
    }
    if (p.family === 4) checkUnicastAddress(text, p.prefix);
    else checkUnicastAddress6(text, p.prefix);
    const key = p.family === 4 ? String(p.prefix.address) : formatIPv6(p.prefix.address);
    if (seen.has(key)) throw usageError(`--address ${text} is given twice`);
    seen.add(key);
    return p;
  });
}

/** IPv6 needs an MTU of at least 1,280 (RFC 8200): below it the kernel turns IPv6 off on the device. */
export const IPV6_MIN_MTU = 1280;

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export function tunCommands(): Command {
  const tun = new Command('tun').description('create, delete and inspect TUN devices (over rtnetlink)');

  tun
    .command('add')
    .description('create a persistent TUN device, give it addresses and bring it up')
    .argument('<name>', 'interface name (at most 15 characters)')
    .option('-a, --address <cidr>', 'IPv4 or IPv6 address with prefix length; repeat for more', collect, [])
    .option('--mtu <n>', `MTU (${MIN_MTU}-${MAX_MTU}); default: the kernel's (1500)`)
    .option('--replace', 'delete an existing TUN of the same name first')
    .option('--json', 'print the device as JSON')
    .addHelpText('after', '\nExamples:\n  tun-driver tun add tun19 --address 10.244.1.3/24 --mtu 1472\n  tun-driver tun add tun19 --address 10.244.1.3/24 --address fd00:10:244:1::3/64\n')
    .action((name: string, opts: { address: string[]; mtu?: string; replace?: boolean; json?: boolean }) => {
      // Everything is validated before anything is changed.
      checkInterfaceName(name);
      const addresses = parseAddressFlags(opts.address);
      const mtu = opts.mtu === undefined ? undefined : intOption('--mtu', opts.mtu, MIN_MTU, MAX_MTU);
      if (mtu !== undefined) checkMtu(mtu);
      if (mtu !== undefined && mtu < IPV6_MIN_MTU && addresses.some((a) => a.family === 6)) {
        throw usageError(`--mtu ${mtu} is below IPv6's minimum of ${IPV6_MIN_MTU}: give at least ${IPV6_MIN_MTU} with an IPv6 --address`);
      }
      const device = LinuxTun.create({ name, addresses: addresses.map((a) => a.prefix), mtu, persist: true, replace: opts.replace });
      device.close();
      const view = withNetlink((nl) => tunView(linkByName(nl, name), addrList(nl), addr6List(nl)));
      if (opts.json) printJson(view);
      else process.stdout.write(`created ${name}\n${formatTunView(view)}\n`);
    });

  tun
    .command('del')
    .description('delete a TUN device')
    .argument('<name>', 'interface name')
    .addHelpText('after', '\nExample:\n  tun-driver tun del tun19\n')
    .action((name: string) => {
      checkInterfaceName(name);
      withNetlink((nl) => {
        const link = linkByName(nl, name);
        if (link.kind !== 'tun') throw new TunDriverError('TUN_ERR_USAGE', `${name} is a ${link.kind ?? 'non-TUN'} device, not a TUN: refusing to delete it`);
        linkDelete(nl, link.index);
      });
      process.stdout.write(`deleted ${name}\n`);
    });

  tun
    .command('show')
    .description('show TUN devices: addresses, MTU, state and counters (like ip -s link)')
    .argument('[name]', 'one device (default: every TUN device)')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExamples:\n  tun-driver tun show\n  tun-driver tun show tun19 --json\n')
    .action(async (name: string | undefined, opts: { json?: boolean }) => {
      if (name !== undefined) checkInterfaceName(name);
      const views = withNetlink((nl) => {
        const addresses = addrList(nl);
        const addresses6 = addr6List(nl);
        const links = name ? [linkByName(nl, name)] : linkList(nl).filter((l) => l.kind === 'tun');
        if (name && links[0].kind !== 'tun') throw new TunDriverError('TUN_ERR_USAGE', `${name} is a ${links[0].kind ?? 'non-TUN'} device, not a TUN (ip link show ${name} shows it)`);
        return links.map((l) => tunView(l, addresses, addresses6));
      });
      for (const v of views) if (v.kind === 'tun') v.offloads = await daemonOffloads(v.name);
      if (opts.json) printJson(name ? views[0] : views);
      else process.stdout.write(views.length ? views.map(formatTunView).join('\n') + '\n' : 'no TUN devices\n');
    });

  return tun;
}
