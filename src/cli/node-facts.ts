// The facts about an overlay node that its status reports (overlay-command.ts, kernel-agent.ts).
import type { Prefix } from '../packet/addr.js';
import type { Prefix6 } from '../packet/addr6.js';

/** What `tun-driver status` says of an overlay node itself, whatever its backend. */
export interface NodeFacts {
  /** Undefined on an IPv6-only node. */
  network?: Prefix;
  subnet?: Prefix;
  ipv6?: { network6: Prefix6; subnet6: Prefix6 };
  publicIp: number;
  publicIpv6?: Uint8Array;
  port: number;
  ipMasq?: { table: string; subnetFile: string };
  ip6Masq?: { table: string };
  /** With --private-key: this node's public key. */
  publicKey?: string;
}
