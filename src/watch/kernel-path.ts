// The packet-path probe's view of a kernel backend (vxlan, host-gw): there
// is no daemon in the data path to note the stages, so the probe counts
// the ping in each host's netfilter hooks instead. One nftables table per
// probe (`inet tdlab-probe-<id>`, in the lab's namespaces only) holds a
// named counter per point the ping can pass: in from the pods' bridge,
// into the VTEP, out on the wire as VXLAN (matched inside the UDP payload
// by its ICMP type and identifier), in from the wire, out of the VTEP
// decapsulated, out to the bridge; each for the request and the reply.
// The same table goes into both hosts; each side's plan reads its own
// counters. Pure: the table's text and the hop plan.
import type { ProbeStage } from '../control/probe.js';

export type KernelProbeBackend = 'vxlan' | 'host-gw';

export interface KernelProbeSpec {
  backend: KernelProbeBackend;
  /** The ICMP identifier of the probe's ping. */
  id: number;
  /** Whether the ping is ICMPv6 (IPv6 pods). */
  ipv6: boolean;
  /** vxlan's UDP port (flannel's 8472, or Backend.Port). */
  port: number;
}

/** The probe's nftables table name for identifier `id`. */
export const kernelProbeTable = (id: number): string => `tdlab-probe-${id}`;

/** The counters both hosts keep: request and reply, at each point. */
export const KERNEL_COUNTERS = ['req-from-pod', 'req-to-vtep', 'req-wire-out', 'req-wire-in', 'req-decap', 'req-to-pod', 'reply-from-pod', 'reply-to-vtep', 'reply-wire-out', 'reply-wire-in', 'reply-decap', 'reply-to-pod'] as const;
export type KernelCounter = (typeof KERNEL_COUNTERS)[number];

/** Inner offsets in bits from the outer UDP header: UDP 8 + VXLAN 8 + Ethernet 14 + the inner IP header (20 or 40), then the ICMP type and, 4 bytes on, the identifier. */
function innerIcmp(ipv6: boolean): { typeBit: number; idBit: number } {
  const icmpStart = 8 + 8 + 14 + (ipv6 ? 40 : 20);
  return { typeBit: icmpStart * 8, idBit: (icmpStart + 4) * 8 };
}

/**
 * The nftables table (for `nft -f -`) that counts the probe's ping in one
 * host. Its chains only count: policy accept, no verdicts.
 */
export function kernelProbeScript(spec: KernelProbeSpec): string {
  const { id, ipv6, port } = spec;
  const proto = ipv6 ? 'icmpv6' : 'icmp';
  const types = { req: ipv6 ? 128 : 8, reply: ipv6 ? 129 : 0 };
  const icmp = (dir: 'req' | 'reply'): string => `${proto} type ${dir === 'req' ? 'echo-request' : 'echo-reply'} ${proto} id ${id}`;
  const { typeBit, idBit } = innerIcmp(ipv6);
  const vxlan = (dir: 'req' | 'reply'): string => `udp dport ${port} @th,${typeBit},8 ${types[dir]} @th,${idBit},16 ${id}`;
  const pre: string[] = [];
  const post: string[] = [];
  for (const dir of ['req', 'reply'] as const) {
    pre.push(`iifname "cni0" ${icmp(dir)} counter name "${dir}-from-pod"`);
    post.push(`oifname "cni0" ${icmp(dir)} counter name "${dir}-to-pod"`);
    if (spec.backend === 'vxlan') {
      post.push(`oifname "flannel*" ${icmp(dir)} counter name "${dir}-to-vtep"`);
      post.push(`${vxlan(dir)} counter name "${dir}-wire-out"`);
      pre.push(`${vxlan(dir)} counter name "${dir}-wire-in"`);
      pre.push(`iifname "flannel*" ${icmp(dir)} counter name "${dir}-decap"`);
    } else {
      // host-gw: the pods' own packets on the underlay; whatever is not the bridge is the wire.
      post.push(`oifname != "cni0" ${icmp(dir)} counter name "${dir}-wire-out"`);
      pre.push(`iifname != "cni0" ${icmp(dir)} counter name "${dir}-wire-in"`);
    }
  }
  const chain = (name: string, hook: string, priority: number, rules: string[]): string =>
    `  chain ${name} {\n    type filter hook ${hook} priority ${priority}; policy accept;\n${rules.map((r) => `    ${r}\n`).join('')}  }\n`;
  return `table inet ${kernelProbeTable(id)} {\n${KERNEL_COUNTERS.map((c) => `  counter ${c} {}\n`).join('')}${chain('pre', 'prerouting', -300, pre)}${chain('post', 'postrouting', 300, post)}}\n`;
}

/** The counters of one host's probe table, from `nft -j list counters table inet NAME`. */
export function parseProbeCounters(json: string): Partial<Record<KernelCounter, number>> {
  const out: Partial<Record<KernelCounter, number>> = {};
  const parsed = JSON.parse(json) as { nftables?: Array<{ counter?: { name: string; packets: number } }> };
  for (const item of parsed.nftables ?? []) {
    if (item.counter && (KERNEL_COUNTERS as readonly string[]).includes(item.counter.name)) out[item.counter.name as KernelCounter] = item.counter.packets;
  }
  return out;
}

/** What proves a hop passed: a daemon's stage, a host's counter, or the ping's reply. */
export type HopProof = { side: 'near' | 'far'; stage: ProbeStage } | { side: 'near' | 'far'; counter: KernelCounter } | 'delivered';

export interface PlannedHop {
  step: string;
  via: string[];
  host: string;
  proof: HopProof;
}

/**
 * The round trip through a kernel backend, pod to pod across two hosts:
 * vxlan: pod -> cni0 -> flannel.1 -> UDP -> flannel.1 -> cni0 -> pod and back;
 * host-gw: pod -> cni0 -> the underlay -> cni0 -> pod and back.
 */
export function kernelPlan(backend: KernelProbeBackend, port: number, src: { pod: string; host: string; device: string }, dst: { pod: string; host: string; device: string }): PlannedHop[] {
  const near = (counter: KernelCounter): HopProof => ({ side: 'near', counter });
  const far = (counter: KernelCounter): HopProof => ({ side: 'far', counter });
  if (backend === 'host-gw') {
    return [
      { step: 'pod-to-wire', via: [src.pod, 'cni0', `${src.host} routes`, 'underlay'], host: src.host, proof: near('req-wire-out') },
      { step: 'wire-to-host', via: ['underlay', dst.host], host: dst.host, proof: far('req-wire-in') },
      { step: 'host-to-pod', via: [dst.host, 'cni0', dst.pod], host: dst.host, proof: far('req-to-pod') },
      { step: 'pod-replies', via: [dst.pod, 'cni0'], host: dst.host, proof: far('reply-from-pod') },
      { step: 'reply-to-wire', via: ['cni0', `${dst.host} routes`, 'underlay'], host: dst.host, proof: far('reply-wire-out') },
      { step: 'reply-wire-to-host', via: ['underlay', src.host], host: src.host, proof: near('reply-wire-in') },
      { step: 'reply-to-pod', via: [src.host, 'cni0', src.pod], host: src.host, proof: 'delivered' },
    ];
  }
  const udp = `UDP ${port}`;
  return [
    { step: 'pod-to-vtep', via: [src.pod, 'cni0', src.device], host: src.host, proof: near('req-to-vtep') },
    { step: 'vtep-to-wire', via: [src.device, udp], host: src.host, proof: near('req-wire-out') },
    { step: 'wire-to-host', via: [udp, dst.host], host: dst.host, proof: far('req-wire-in') },
    { step: 'vtep-decapsulates', via: [udp, dst.device], host: dst.host, proof: far('req-decap') },
    { step: 'host-to-pod', via: [dst.device, 'cni0', dst.pod], host: dst.host, proof: far('req-to-pod') },
    { step: 'pod-replies', via: [dst.pod, 'cni0'], host: dst.host, proof: far('reply-from-pod') },
    { step: 'reply-to-wire', via: ['cni0', dst.device, udp], host: dst.host, proof: far('reply-wire-out') },
    { step: 'reply-wire-to-host', via: [udp, src.device], host: src.host, proof: near('reply-decap') },
    { step: 'reply-to-pod', via: [src.device, 'cni0', src.pod], host: src.host, proof: 'delivered' },
  ];
}
