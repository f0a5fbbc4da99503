// What the kernel needs before `ping -6 -I tun19 <host>` sends into the
// TUN. IPv4 needs nothing: for a socket bound to a device, the kernel
// treats a destination without a route as on-link. IPv6 does not ("connect:
// Network is unreachable"), so the relay gives traffic bound to its TUN a
// table of its own holding one default route into the TUN:
//   ip -6 rule add oif tun19 lookup <table> priority 1000
//   ip -6 route add default dev tun19 table <table>
// Traffic not bound to the TUN never matches the rule; the route leaves
// with the device, the rule is removed on stop.
import { parseCidr6 } from '../packet/addr6.js';
import { NetlinkError, NetlinkSocket } from '../netlink/socket.js';
import { AF_INET6 } from '../netlink/nl/constants.js';
import { routeReplace } from '../netlink/route.js';
import { OifRule, ruleAdd, ruleDelete } from '../netlink/rule.js';

/** Rules of ours sit here, before the main table's 32766. */
export const TUN_RULE_PRIORITY = 1000;
/** Tables of ours: this plus the TUN's ifindex ("td" in the high half: out of the way of tables people number by hand). */
const TABLE_BASE = 0x74640000;

/** The rule and route the relay installs for `tun` (for doctor and the docs). */
export function tunRoute6(tunName: string, tunIndex: number): { rule: OifRule; table: number; commands: string[] } {
  const table = TABLE_BASE + (tunIndex & 0xffff);
  const rule = { family: AF_INET6, oifName: tunName, table, priority: TUN_RULE_PRIORITY };
  return {
    rule,
    table,
    commands: [`ip -6 rule add oif ${tunName} lookup ${table} priority ${TUN_RULE_PRIORITY}`, `ip -6 route add default dev ${tunName} table ${table}`],
  };
}

/**
 * Installs the rule and the default route into the TUN; returns what undoes them.
 * A rule of the same shape left by a relay that was killed is replaced.
 * @throws NetlinkError when the kernel refuses.
 */
export function installTunRoute6(nl: NetlinkSocket, tunName: string, tunIndex: number): () => void {
  const { rule, table } = tunRoute6(tunName, tunIndex);
  routeReplace(nl, { dst: parseCidr6('::/0'), oif: tunIndex, table });
  try {
    ruleAdd(nl, rule);
  } catch (err) {
    if (!(err instanceof NetlinkError && err.errnoName === 'EEXIST')) throw err;
  }
  return () => {
    const undo = NetlinkSocket.open();
    try {
      ruleDelete(undo, rule);
    } catch {
      // already gone (the namespace went first, or someone removed it)
    } finally {
      undo.close();
    }
  };
}

