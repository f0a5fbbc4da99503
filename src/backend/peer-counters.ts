// Traffic per peer for the kernel backends (--peer-counters). The kernel
// counts per device, not per peer; this keeps one nftables table,
// `inet tun-driver-<name>-peers`, with four interval sets of the peers'
// pod subnets (tx4/rx4/tx6/rx6) whose elements carry counters: a packet
// leaving this node for a peer's pods (postrouting, destination in its
// subnet) counts on that peer's tx element, one arriving from them
// (prerouting, source in its subnet) on its rx element. Inner packets,
// as the user-space backends count: for vxlan the routed packet before
// encapsulation and after decapsulation (the outer UDP packet's addresses
// are the nodes', not in a pod subnet). The cost is one set lookup per
// packet in each hook (bench:overlay's ours-vxlan+counters row); the
// table is the agent's, removed with it, made anew by the next.
import { isNoSuchTable, nft } from '../netns/nft.js';
import { TunDriverError } from '../errors.js';

/** What one peer sent and received, in inner packets and bytes. */
export interface PeerTraffic {
  txPackets: number;
  txBytes: number;
  rxPackets: number;
  rxBytes: number;
}

/** A peer's pod subnets, per family, as status names them ("10.244.2.0/24", "fd00:10:244:2::/64"). */
export interface CountedPeer {
  subnet?: string;
  subnet6?: string;
}

const NEEDED_FOR = '--peer-counters';

/** The table of daemon `name`. */
export const peerCountersTable = (name: string): string => `tun-driver-${name}-peers`;

/** The table's text for `nft -f -`: the sets and the two counting chains (policy accept, no verdicts). */
export function peerCountersScript(name: string): string {
  const t = peerCountersTable(name);
  const set = (n: string, type: string): string => `  set ${n} { type ${type}; flags interval; counter; }\n`;
  return `table inet ${t} {\n${set('tx4', 'ipv4_addr')}${set('rx4', 'ipv4_addr')}${set('tx6', 'ipv6_addr')}${set('rx6', 'ipv6_addr')}`
    + '  chain post {\n    type filter hook postrouting priority 0; policy accept;\n    ip daddr @tx4\n    ip6 daddr @tx6\n  }\n'
    + '  chain pre {\n    type filter hook prerouting priority 0; policy accept;\n    ip saddr @rx4\n    ip6 saddr @rx6\n  }\n}\n';
}

/** The counters of every element of the table's sets, by subnet text, from `nft -j list table`. */
export function parsePeerCounters(json: string): Map<string, PeerTraffic> {
  const out = new Map<string, PeerTraffic>();
  const parsed = JSON.parse(json) as { nftables?: Array<{ set?: { name: string; elem?: Array<{ elem?: { val?: { prefix?: { addr: string; len: number } } | string; counter?: { packets: number; bytes: number } } }> } }> };
  for (const item of parsed.nftables ?? []) {
    const set = item.set;
    if (!set || !/^(tx|rx)[46]$/.test(set.name)) continue;
    for (const e of set.elem ?? []) {
      const val = e.elem?.val;
      const counter = e.elem?.counter;
      if (!val || typeof val !== 'object' || !val.prefix || !counter) continue;
      const key = `${val.prefix.addr}/${val.prefix.len}`;
      const t = out.get(key) ?? { txPackets: 0, txBytes: 0, rxPackets: 0, rxBytes: 0 };
      if (set.name.startsWith('tx')) {
        t.txPackets += counter.packets;
        t.txBytes += counter.bytes;
      } else {
        t.rxPackets += counter.packets;
        t.rxBytes += counter.bytes;
      }
      out.set(key, t);
    }
  }
  return out;
}

/** A peer's subnets with their family (an IPv6-only peer's `subnet` is its IPv6 one; nft prints IPv6 in the canonical text status uses). */
const subnetsOf = (p: CountedPeer): Array<{ family: 4 | 6; text: string }> =>
  [p.subnet, p.subnet6].filter((t): t is string => t !== undefined).map((text) => ({ family: text.includes(':') ? 6 : 4, text }));

export class PeerCounters {
  /** The subnets in the sets now, with their family. */
  private readonly held = new Map<string, 4 | 6>();

  private constructor(private readonly name: string) {}

  /**
   * Makes the table anew (a previous agent's, left by a crash, is replaced).
   * @throws TunDriverError `TUN_ERR_USAGE` without nft; `TUN_ERR_NETLINK` when the kernel refuses the table.
   */
  static open(name: string): PeerCounters {
    const table = peerCountersTable(name);
    const r = nft(['-f', '-'], NEEDED_FOR, `table inet ${table}\ndelete table inet ${table}\n${peerCountersScript(name)}`);
    if (!r.ok) throw new TunDriverError('TUN_ERR_NETLINK', `cannot make the peer counters' nftables table ${table}: ${r.stderr}`);
    return new PeerCounters(name);
  }

  /** Brings the sets to these peers' subnets, in one nft transaction; a failure is returned as its reason (the counters are observability: the data plane goes on). */
  follow(peers: readonly CountedPeer[]): string | undefined {
    const want = new Map<string, 4 | 6>();
    for (const p of peers) for (const s of subnetsOf(p)) want.set(s.text, s.family);
    const lines: string[] = [];
    const table = peerCountersTable(this.name);
    const element = (verb: 'add' | 'delete', text: string, family: 4 | 6): string[] =>
      ['tx', 'rx'].map((dir) => `${verb} element inet ${table} ${dir}${family} { ${text}${verb === 'add' ? ' counter' : ''} }`);
    for (const [text, family] of this.held) if (!want.has(text)) lines.push(...element('delete', text, family));
    for (const [text, family] of want) if (!this.held.has(text)) lines.push(...element('add', text, family));
    if (lines.length === 0) return undefined;
    const r = nft(['-f', '-'], NEEDED_FOR, `${lines.join('\n')}\n`);
    if (!r.ok) return `nft refused the peer counters' change: ${r.stderr}`;
    this.held.clear();
    for (const [text, family] of want) this.held.set(text, family);
    return undefined;
  }

  /** Every peer's counters now, by subnet text ("10.244.2.0/24"); empty when the table cannot be read. */
  read(): Map<string, PeerTraffic> {
    const r = nft(['-j', 'list', 'table', 'inet', peerCountersTable(this.name)], NEEDED_FOR);
    if (!r.ok) return new Map();
    try {
      return parsePeerCounters(r.stdout);
    } catch {
      return new Map();
    }
  }

  /** Removes the table (a table already gone is fine). */
  close(): void {
    const r = nft(['delete', 'table', 'inet', peerCountersTable(this.name)], NEEDED_FOR);
    if (!r.ok && !isNoSuchTable(r)) throw new TunDriverError('TUN_ERR_NETLINK', `cannot remove ${peerCountersTable(this.name)}: ${r.stderr}`);
  }
}
