// Policy routing rules over rtnetlink (`ip rule`), the one kind the
// project needs: "traffic bound to this device looks up this table". The
// IPv6 relay uses it so `ping -6 -I tun19` finds a route into the TUN
// without a route in the main table (IPv4 needs none: the kernel assumes a
// device-bound destination is on-link; IPv6 does not).
import { attrString, attrU32, MessageBuilder, NlMessage, parseAttrs } from './nl/codec.js';
import { AF_INET, FR_ACT, FRA, NLM_F, RTM } from './nl/constants.js';
import { encodeFibRule } from './nl/structs.js';
import { NetlinkSocket } from './socket.js';

/** `ip [-6] rule add oif NAME lookup TABLE priority PRIORITY`. */
export interface OifRule {
  /** AF_INET or AF_INET6. */
  family: number;
  oifName: string;
  table: number;
  priority: number;
}

function ruleRequest(type: number, flags: number, r: OifRule): MessageBuilder {
  const b = new MessageBuilder(type, flags).bytes(encodeFibRule({ family: r.family, table: r.table, action: FR_ACT.TO_TBL }));
  b.attrU32(FRA.PRIORITY, r.priority);
  b.attr(FRA.OIFNAME, new TextEncoder().encode(`${r.oifName}\0`));
  b.attrU32(FRA.TABLE, r.table);
  return b;
}

const describe = (r: OifRule): string => `${r.family === AF_INET ? '' : '-6 '}rule oif ${r.oifName} lookup ${r.table} priority ${r.priority}`;

/** A rule as the kernel lists it (`ip rule show`): the fields the project reads. */
export interface Rule {
  family: number;
  priority: number;
  table: number;
  /** The output interface it matches (`oif NAME`), if any. */
  oifName?: string;
}

const FIB_RULE_HDR_LEN = 12;

export function decodeRule(m: NlMessage): Rule {
  const attrs = parseAttrs(m.data, FIB_RULE_HDR_LEN);
  return {
    family: m.data[0],
    priority: attrU32(attrs.get(FRA.PRIORITY)) ?? 0,
    table: attrU32(attrs.get(FRA.TABLE)) ?? m.data[4],
    oifName: attrString(attrs.get(FRA.OIFNAME)),
  };
}

/**
 * `ip [-6] rule show`: the rules of one family.
 * @throws NetlinkError (`TUN_ERR_NETLINK`, `TUN_ERR_PERMISSION`).
 */
export function ruleList(nl: NetlinkSocket, family: number): Rule[] {
  return nl
    .dump('list rules', new MessageBuilder(RTM.GETRULE, NLM_F.REQUEST | NLM_F.DUMP).bytes(encodeFibRule({ family, table: 0, action: 0 })))
    .filter((m) => m.type === RTM.NEWRULE && m.data[0] === family)
    .map(decodeRule);
}

export const ruleRequests = {
  add: (r: OifRule) => ruleRequest(RTM.NEWRULE, NLM_F.REQUEST | NLM_F.ACK | NLM_F.CREATE | NLM_F.EXCL, r),
  del: (r: OifRule) => ruleRequest(RTM.DELRULE, NLM_F.REQUEST | NLM_F.ACK, r),
};

/**
 * `ip rule add oif NAME lookup TABLE priority P`.
 * @throws NetlinkError (`TUN_ERR_NETLINK`: EEXIST when the same rule is there; `TUN_ERR_PERMISSION`).
 */
export function ruleAdd(nl: NetlinkSocket, r: OifRule): void {
  nl.ack(`add ${describe(r)}`, ruleRequests.add(r));
}

/**
 * `ip rule del oif NAME lookup TABLE priority P`.
 * @throws NetlinkError (`TUN_ERR_NETLINK`: ENOENT when there is no such rule; `TUN_ERR_PERMISSION`).
 */
export function ruleDelete(nl: NetlinkSocket, r: OifRule): void {
  nl.ack(`delete ${describe(r)}`, ruleRequests.del(r));
}
