// One-line, tcpdump-like descriptions of packets, for --trace.
import { formatIPv4 } from './addr.js';
import { formatIPv6 } from './addr6.js';
import { Icmp6View, ICMP6_TYPE } from './icmp6.js';
import { IPv6View } from './ipv6.js';
import { IPv4View, IPPROTO } from './ipv4.js';
import { IcmpView, ICMP_TYPE } from './icmp.js';

const ICMP_NAMES: Record<number, string> = {
  [ICMP_TYPE.ECHO_REPLY]: 'echo reply',
  [ICMP_TYPE.ECHO_REQUEST]: 'echo request',
  [ICMP_TYPE.DEST_UNREACH]: 'unreachable',
  [ICMP_TYPE.TIME_EXCEEDED]: 'time exceeded in-transit',
  [ICMP_TYPE.PARAM_PROBLEM]: 'parameter problem',
};
const UNREACH_NAMES = ['net', 'host', 'protocol', 'port', 'need to frag', 'source route failed', 'net unknown', 'host unknown', 'isolated', 'net prohibited', 'host prohibited', 'net tos', 'host tos', 'admin prohibited'];

/** "IP 10.244.1.3 > 198.51.100.2: ICMP echo request, id 25, seq 1, length 64". `icmp` must be attached when protocol is ICMP. */
export function describeIPv4(ip: IPv4View, icmp?: IcmpView): string {
  const head = `IP ${formatIPv4(ip.src)} > ${formatIPv4(ip.dst)}:`;
  const frag = ip.isFragment ? ` (frag id ${ip.id} offset ${ip.fragmentOffset}${ip.moreFragments ? '+' : ''})` : '';
  if (ip.protocol !== IPPROTO.ICMP || !icmp || ip.fragmentOffset !== 0) return `${head} proto ${ip.protocol}, length ${ip.totalLength}${frag}`;
  let what = ICMP_NAMES[icmp.type] ?? `type ${icmp.type} code ${icmp.code}`;
  if (icmp.type === ICMP_TYPE.DEST_UNREACH) what = `${UNREACH_NAMES[icmp.code] ?? `code ${icmp.code}`} unreachable`;
  const echo = icmp.isEcho ? `, id ${icmp.id}, seq ${icmp.seq}` : '';
  return `${head} ICMP ${what}${echo}, length ${icmp.length}${frag} ttl ${ip.ttl}`;
}

/** "fd00:1::3 > 2001:db8::9 echo-request id 7 seq 1, 64 bytes hlim 64": the IPv6 twin, `icmp` attached when it is ICMPv6. */
export function describeIPv6(ip: IPv6View, icmp?: Icmp6View): string {
  const base = `${formatIPv6(ip.buf, ip.srcOffset)} > ${formatIPv6(ip.buf, ip.dstOffset)}`;
  if (!icmp) return `${base} next-header ${ip.protocol}, ${ip.totalLength} bytes`;
  const what = icmp.isEcho ? `echo-${icmp.type === ICMP6_TYPE.ECHO_REQUEST ? 'request' : 'reply'} id ${icmp.id} seq ${icmp.seq}` : `icmp6 type ${icmp.type} code ${icmp.code}`;
  return `${base} ${what}, ${ip.totalLength} bytes hlim ${ip.hopLimit}`;
}
