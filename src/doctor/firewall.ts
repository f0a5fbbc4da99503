// Reads the nftables ruleset (read-only: `nft -j list ruleset`; iptables on
// Debian is nftables underneath, so its rules are there too) and finds the
// rules that would drop the traffic a daemon depends on.
import { spawnSync } from 'node:child_process';

/** What a daemon needs to get through: UDP to a port (overlay), or ICMP (relay). */
export type Traffic = { proto: 'udp'; port: number } | { proto: 'icmp' };

export interface BlockingRule {
  /** "ip filter INPUT handle 2: udp dport 8285 drop". */
  evidence: string;
  fix: string;
}

type Json = Record<string, any>;

/** Whether the `right` side of an nft match (value, set, range) includes `value`. */
function includes(right: unknown, value: string | number): boolean {
  if (Array.isArray(right)) return right.some((r) => includes(r, value));
  if (right && typeof right === 'object') {
    const r = right as Json;
    if ('set' in r) return includes(r.set, value);
    if ('range' in r && typeof value === 'number') return value >= r.range[0] && value <= r.range[1];
    return false;
  }
  return right === value;
}

/** Rules in input/forward/prerouting chains that drop or reject `traffic`. */
export function blockingRules(ruleset: Json, traffic: Traffic): BlockingRule[] {
  const items: Json[] = ruleset.nftables ?? [];
  const hooks = new Map<string, string>();
  for (const i of items) if (i.chain?.hook) hooks.set(`${i.chain.family}/${i.chain.table}/${i.chain.name}`, i.chain.hook);
  const found: BlockingRule[] = [];
  for (const i of items) {
    const rule = i.rule;
    if (!rule) continue;
    const hook = hooks.get(`${rule.family}/${rule.table}/${rule.chain}`);
    if (!hook || !['input', 'forward', 'prerouting'].includes(hook) || !['ip', 'inet'].includes(rule.family)) continue;
    const exprs: Json[] = rule.expr ?? [];
    const verdict = exprs.find((e) => 'drop' in e || 'reject' in e || (e.xt && /^(DROP|REJECT)$/i.test(e.xt.name ?? '')));
    if (!verdict) continue;
    let matches = true;
    const said: string[] = [];
    for (const e of exprs) {
      const m = e.match;
      if (!m || m.op !== '==') continue;
      const left = m.left ?? {};
      if (left.meta?.key === 'l4proto' || (left.payload?.protocol === 'ip' && left.payload.field === 'protocol')) {
        said.push(`l4proto ${JSON.stringify(m.right)}`);
        if (!includes(m.right, traffic.proto)) matches = false;
      } else if (left.payload && ['udp', 'tcp', 'icmp'].includes(left.payload.protocol)) {
        said.push(`${left.payload.protocol} ${left.payload.field} ${JSON.stringify(m.right)}`);
        if (left.payload.protocol !== traffic.proto) matches = false;
        else if (traffic.proto === 'udp' && left.payload.field === 'dport' && !includes(m.right, traffic.port)) matches = false;
      } else {
        said.push(`${JSON.stringify(left)} ${JSON.stringify(m.right)}`); // narrower (addresses, interfaces): may still apply
      }
    }
    if (!matches) continue;
    const action = 'drop' in verdict ? 'drop' : 'reject';
    found.push({
      evidence: `nft ${rule.family} ${rule.table} ${rule.chain} handle ${rule.handle}: ${said.join(' ') || 'everything'} ${action}`,
      fix: `nft delete rule ${rule.family} ${rule.table} ${rule.chain} handle ${rule.handle}`,
    });
  }
  return found;
}

/** Chains on input/forward whose default policy drops. */
export function droppingPolicies(ruleset: Json): string[] {
  return (ruleset.nftables ?? [])
    .map((i: Json) => i.chain)
    .filter((c: Json | undefined) => c && ['input', 'forward'].includes(c.hook) && c.policy === 'drop')
    .map((c: Json) => `nft ${c.family} ${c.table} ${c.name}: policy drop`);
}

/** The ruleset, or undefined when nft is not installed or cannot read it. */
export function readRuleset(): Json | undefined {
  const r = spawnSync('nft', ['-j', 'list', 'ruleset'], { encoding: 'utf8', timeout: 5000 });
  if (r.status !== 0 || !r.stdout) return undefined;
  try {
    return JSON.parse(r.stdout);
  } catch {
    return undefined;
  }
}
