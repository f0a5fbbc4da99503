// `tun-driver overlay`: flannel's agent. Flags -> the subnet manager (a
// leases file or etcd, src/subnet/) -> the backend it names, opened by
// open-backend.ts -> the agent that runs any backend (agent.ts).
// Everything a user can get wrong is refused here, as one line and exit
// 2, before anything on the system changes (with etcd, a taken subnet is
// given back).
import { Command } from 'commander';
import { createLogger } from '../log.js';
import { addr6List, addrList } from '../netlink/addr.js';
import { linkByName, linkList } from '../netlink/link.js';
import { NetlinkSocket } from '../netlink/socket.js';
import { formatCidr, parseCidr, parseIPv4, Prefix, prefixContains } from '../packet/addr.js';
import { formatCidr6, parseCidr6, parseIPv6, Prefix6, prefix6Contains, sameIPv6 } from '../packet/addr6.js';
import { IPV6 } from '../packet/ipv6.js';
import { DEFAULT_PORT } from '../subnet/leases.js';
import { ControlPlane, FileControlPlane } from '../subnet/control-plane.js';
import { parseEndpoints } from '../subnet/etcd/etcd-connection.js';
import { EtcdSecurity, etcdSecurityFrom } from '../subnet/etcd/etcd-security.js';
import { X509Certificate } from 'node:crypto';
import { EtcdControlPlane } from '../subnet/etcd/etcd-control-plane.js';
import { DEFAULT_ETCD_PREFIX } from '../subnet/etcd/subnet-keys.js';
import { DEFAULT_SUBNET_FILE } from '../subnet/etcd/subnet-env.js';
import { ENCAP_OVERHEAD, overlayPathMtu } from '../overlay/mtu.js';
import { readPresharedKeyFile, readPrivateKeyFile } from './key-commands.js';
import { NodeKeyPair } from '../wireguard/keys.js';
import type { Logger } from '../log.js';
import { BackendType, isKernelBackend, PublishedBackend } from '../backend/backend.js';
import { publishedBackend } from '../backend/publication.js';
import { BACKEND_TYPES, NetworkConfig, VXLAN_DEFAULT_VNI, VXLAN_MAX_VNI, VXLAN_PORT, VxlanConfig } from '../subnet/etcd/network-config.js';
import { runAgent } from './agent.js';
import { kernelOpener, userSpaceOpener } from './open-backend.js';
import { traceWriter } from './daemon.js';
import { checkInterfaceName, MAX_MTU, MIN_MTU } from '../tun/linux-tun.js';
import { OffloadMode } from '../tun/offload.js';
import { addIoWaitOption, ioWaitLoop, parseIoWait } from './io-wait-option.js';
import { addCaptureOptions, captureLimit, CaptureFlags, withCapture } from './capture.js';
import { intOption, usageError } from './output.js';
import { addMetricsOption, metricsListen } from './metrics-option.js';

interface OverlayFlags extends CaptureFlags {
  metrics?: string;
  network?: string[];
  subnet?: string[];
  publicIp: string;
  publicIpv6?: string;
  leases?: string;
  port?: string;
  etcdEndpoints?: string;
  etcdPrefix: string;
  etcdCafile?: string;
  etcdCertfile?: string;
  etcdKeyfile?: string;
  etcdUsername?: string;
  etcdPassword?: string;
  subnetFile: string;
  subnetLeaseTtl: string;
  etcdTimeout: string;
  tun: string;
  via?: string;
  mtu?: string;
  trace?: boolean;
  jsonLog?: boolean;
  offload: string;
  ioWait: string;
  ipMasq?: boolean;
  ip6Masq?: boolean;
  privateKey?: string;
  presharedKey?: string;
  allowPlaintextPeers?: boolean;
  backend?: string;
  vni?: string;
  directRouting?: boolean;
  gbp?: boolean;
  removeOnExit?: boolean;
  peerCounters?: boolean;
}

export function overlayCommand(): Command {
  return addIoWaitOption(addMetricsOption(addCaptureOptions(new Command('overlay'))))
    .description("flannel's agent: each node owns a subnet, and one of flannel's backends (udp, wireguard, vxlan, host-gw) carries the cluster network between nodes")
    .requiredOption('--public-ip <addr>', "this node's underlay address (other nodes send to it)")
    .option('--public-ipv6 <addr>', "dual-stack: this node's IPv6 underlay address; nodes whose lease names one too (publicIpV6, etcd's PublicIPv6) talk to it over IPv6")
    .option('--network <cidr>', 'leases file mode: the whole cluster network, e.g. 10.244.0.0/16; give an IPv6 one too (fd00:10:244::/48) for a dual-stack cluster', collectFlag)
    .option('--subnet <cidr>', "leases file mode: this node's subnet, e.g. 10.244.1.0/24; with an IPv6 --network, its IPv6 subnet too (fd00:10:244:1::/64)", collectFlag)
    .option('--leases <file>', 'leases file mode: JSON file listing the nodes: {"nodes":[{"subnet":"10.244.1.0/24","publicIp":"198.51.100.1","port":8285}, ...]}; watched')
    .option('--port <n>', `leases file mode: UDP port (default ${DEFAULT_PORT})`)
    .option('--etcd-endpoints <urls>', 'etcd mode: comma-separated etcd URLs, e.g. http://198.51.100.1:2379; the network, subnet and port come from etcd')
    .option('--etcd-prefix <key>', 'etcd mode: key prefix (flannel layout: <prefix>/config, <prefix>/subnets/)', DEFAULT_ETCD_PREFIX)
    .option('--etcd-cafile <file>', 'etcd mode, https:// endpoints: the CA that signed etcd\'s certificate (PEM; also FLANNELD_ETCD_CAFILE)')
    .option('--etcd-certfile <file>', 'etcd mode: this node\'s client certificate (PEM; also FLANNELD_ETCD_CERTFILE); with etcd\'s RBAC its CN is the user')
    .option('--etcd-keyfile <file>', 'etcd mode: the client certificate\'s key (PEM; also FLANNELD_ETCD_KEYFILE)')
    .option('--etcd-username <name>', 'etcd mode: etcd user for password authentication (also FLANNELD_ETCD_USERNAME)')
    .option('--etcd-password <password>', 'etcd mode: its password (also FLANNELD_ETCD_PASSWORD, which keeps it out of ps)')
    .option('--subnet-file <path>', 'where to write FLANNEL_NETWORK/SUBNET/MTU/IPMASQ for the CNI plugin (tun-driver-cni); etcd mode also reads it back at start to ask for the same subnet', DEFAULT_SUBNET_FILE)
    .option('--subnet-lease-ttl <s>', "etcd mode: TTL of this node's subnet lease in seconds (renewed every third of it)", '86400')
    .option('--etcd-timeout <s>', 'etcd mode: give up (exit 2) if etcd cannot be reached at start within this many seconds', '5')
    .option('--tun <name>', 'TUN device name', 'flannel0')
    .option('--via <iface>', 'send through this interface only')
    .option('--mtu <n>', `TUN MTU (default: the underlay's MTU - ${ENCAP_OVERHEAD})`)
    .option('--offload <mode>', 'TUN TSO/GRO and UDP GSO/GRO at the edges: auto (what the kernel offers), on (fail without), off; the wire format is the same either way', 'auto')
    .option('--ip-masq', "masquerade pod traffic that leaves the cluster network with this node's address (nftables table tun-driver-<tun>, removed on exit); subnet.env then says FLANNEL_IPMASQ=true")
    .option('--ip6-masq', "dual-stack: masquerade pods' IPv6 traffic that leaves the IPv6 cluster network (nftables table ip6 tun-driver-<tun>, removed on exit)")
    .option('--private-key <file>', 'speak WireGuard to every node with a key (tun-driver keygen or wg genkey makes one; docs/security.md); the public key is published with this node\'s lease')
    .option('--preshared-key <file>', 'with --private-key: a WireGuard preshared key (base64, as wg genpsk prints) every handshake mixes in; flannel\'s Backend.PSK does the same in etcd mode')
    .option('--allow-plaintext-peers', 'with --private-key: still talk unencrypted to nodes that have no key (default: drop their traffic)')
    .option('--backend <type>', `leases file mode: how packets cross nodes: ${BACKEND_TYPES.join(', ')} (default udp, or wireguard with --private-key); etcd mode takes Backend.Type from the config (docs/backends.md)`)
    .option('--vni <n>', `leases file mode, vxlan: the VXLAN network identifier (device flannel.<vni>; default ${VXLAN_DEFAULT_VNI}); etcd: Backend.VNI`)
    .option('--direct-routing', 'leases file mode, vxlan: peers on this node\'s link get a plain route via their public IP, no encapsulation (flannel\'s DirectRouting)')
    .option('--gbp', 'leases file mode, vxlan: the VXLAN Group Based Policy extension (flannel\'s GBP)')
    .option('--remove-on-exit', 'vxlan, host-gw: remove the devices, neighbours, FDB entries and routes on exit (by default they stay, so pods keep talking while the agent restarts)')
    .option('--peer-counters', 'vxlan, host-gw: count each peer\'s traffic (status, --metrics, lab watch\'s tunnels) in an nftables table of per-subnet counters, at the cost of a set lookup per packet (docs/backends.md)')
    .option('--trace', 'print one line per packet on stdout')
    .option('--json-log', 'log JSON lines instead of text')
    .addHelpText('after', `
Examples:
  tun-driver overlay --network 10.244.0.0/16 --subnet 10.244.1.0/24 --public-ip 198.51.100.1 --leases leases.json
  tun-driver overlay --network 10.244.0.0/16 --network fd00:10:244::/48 --subnet 10.244.1.0/24 \
      --subnet fd00:10:244:1::/64 --public-ip 198.51.100.1 --leases leases.json     # dual-stack pods
  tun-driver overlay --etcd-endpoints http://198.51.100.1:2379 --public-ip 198.51.100.1 --ip-masq
  tun-driver overlay --etcd-endpoints https://198.51.100.1:2379 --etcd-cafile ca.pem --etcd-certfile node.pem --etcd-keyfile node-key.pem --public-ip 198.51.100.1
  tun-driver overlay ... --leases leases.json --private-key /etc/tun-driver/key   # WireGuard to nodes whose lease has "publicKey"
  tun-driver overlay ... --leases leases.json --backend vxlan      # the kernel carries: flannel.1, UDP 8472
  tun-driver overlay ... --leases leases.json --backend host-gw    # routes via each node's public IP, no encapsulation
  tun-driver lab up --preset cluster --etcd && tun-driver lab exec host-1 -- tun-driver overlay ...

With etcd, the node reads <prefix>/config (flannel's {"Network": ...,
"SubnetLen": ..., "Backend": {"Type": "udp", "Port": ...}}), takes a free
subnet under <prefix>/subnets/ with a lease, and watches the others
(docs/etcd.md). On SIGTERM it keeps its subnet key until the lease runs
out, so a restart gets the same subnet back.

Like flannel's flannel0, the TUN gets the subnet's first address with the
network's prefix length, so the kernel routes the whole network into it
while the node's own subnet stays on its bridge. The UDP payload is the raw
inner IP packet (docs/overlay.md). Once up, the daemon writes --subnet-file,
which tun-driver-cni reads to give pods addresses (docs/kubernetes.md). SIGUSR1 prints counters per peer;
SIGINT/SIGTERM print them and remove the device. SIGHUP re-reads
--private-key: a new key is published with the lease and used without
dropping traffic (docs/security.md).

With --private-key the overlay speaks WireGuard (Noise IKpsk2, as
wireguard-go does) to every node whose lease names a public key; any
WireGuard implementation configured with this node's public key, endpoint
and subnet is a peer like any other. In etcd mode, "Backend": {"Type":
"wireguard", "ListenPort": 51820, "PSK": "..."} makes the key mandatory.

With the kernel backends (--backend vxlan|host-gw, or "Backend": {"Type":
"vxlan", "VNI": 1, "Port": 8472, "DirectRouting": false} / {"Type":
"host-gw"} in etcd) the agent only programs the kernel, as flannel does:
device flannel.<VNI>, a neighbour, an FDB entry and an onlink route per
node (vxlan), or a route via each node's public IP (host-gw). Stopping
the agent leaves them in place and a new one adopts them; --remove-on-exit
or 'tun-driver overlay-teardown' removes them (docs/backends.md).`)
    .action(runOverlay);
}

const collectFlag = (value: string, previous: string[] = []): string[] => [...previous, value];

/** One IPv4 and at most one IPv6 prefix from a repeated flag, each without host bits. */
function familyFlags(flag: string, values: string[]): { v4?: Prefix; v6?: Prefix6 } {
  const out: { v4?: Prefix; v6?: Prefix6 } = {};
  for (const text of values) {
    if (!text.includes(':')) {
      if (out.v4) throw usageError(`${flag} ${text}: one IPv4 ${flag} only`);
      out.v4 = cidrFlag(flag, text);
      continue;
    }
    if (out.v6) throw usageError(`${flag} ${text}: one IPv6 ${flag} only`);
    let p: Prefix6;
    try {
      p = parseCidr6(text);
    } catch (err) {
      throw usageError(`${flag} ${(err as Error).message}`);
    }
    if (!sameIPv6(p.address, 0, p.network)) throw usageError(`${flag} ${text} has host bits set: use ${formatCidr6(p, false)}`);
    out.v6 = p;
  }
  return out;
}

function cidrFlag(flag: string, text: string): Prefix {
  try {
    const p = parseCidr(text);
    if (p.address !== p.network) throw new Error(`"${text}" has host bits set: use ${formatCidr(p, false)}`);
    return p;
  } catch (err) {
    throw usageError(`${flag} ${(err as Error).message}`);
  }
}

async function runOverlay(flags: OverlayFlags): Promise<void> {
  const publicIp = parseIPv4(flags.publicIp);
  if (publicIp === undefined) throw usageError(`--public-ip ${flags.publicIp}: not an IPv4 address`);
  const publicIpv6 = flags.publicIpv6 === undefined ? undefined : parseIPv6(flags.publicIpv6);
  if (flags.publicIpv6 !== undefined && !publicIpv6) throw usageError(`--public-ipv6 ${flags.publicIpv6}: not an IPv6 address${parseIPv4(flags.publicIpv6) !== undefined ? ' (an IPv4 one goes to --public-ip)' : ''}`);
  if (flags.allowPlaintextPeers && !flags.privateKey) throw usageError('--allow-plaintext-peers goes with --private-key (without a key every peer is plaintext)');
  if (flags.presharedKey && !flags.privateKey) throw usageError('--preshared-key goes with --private-key (a preshared key is mixed into WireGuard handshakes)');
  const kernelFlags = checkBackendFlags(flags);
  const log = createLogger('overlay', { json: flags.jsonLog });
  const keys: NodeKeyPair | undefined = flags.privateKey ? readPrivateKeyFile(flags.privateKey, log) : undefined;
  const pskFlag = flags.presharedKey ? readPresharedKeyFile(flags.presharedKey, log) : undefined;
  const openControlPlane = controlPlaneFromFlags(flags, publicIp, keys?.publicKey, publicIpv6, kernelFlags);
  checkInterfaceName(flags.tun);
  if (flags.via) checkInterfaceName(flags.via);
  if (!['auto', 'on', 'off'].includes(flags.offload)) throw usageError(`--offload ${flags.offload}: use auto, on or off`);
  const offloadMode = flags.offload as OffloadMode;
  const ioWait = parseIoWait(flags.ioWait);
  const mtuFlag = flags.mtu === undefined ? undefined : intOption('--mtu', flags.mtu, MIN_MTU, MAX_MTU);
  const pcapBytes = captureLimit(flags);
  const metricsAt = metricsListen(flags.metrics);

  // The underlay: the interface that holds --public-ip (or --via) sets the MTU.
  const nl = NetlinkSocket.open();
  let underlayMtu: number;
  try {
    const own = addrList(nl).find((a) => a.prefix.address === publicIp);
    if (!own) throw usageError(`--public-ip ${flags.publicIp} is not an address of this host`);
    if (publicIpv6 && !addr6List(nl).some((a) => sameIPv6(a.prefix.address, 0, publicIpv6))) throw usageError(`--public-ipv6 ${flags.publicIpv6} is not an address of this host`);
    const links = linkList(nl);
    const underlay = flags.via ? linkByName(nl, flags.via) : links.find((l) => l.index === own.index)!;
    underlayMtu = underlay.mtu;
  } finally {
    nl.close();
  }
  const pathMtu = overlayPathMtu(underlayMtu, keys !== undefined, publicIpv6 !== undefined);
  const tunMtu = mtuFlag ?? pathMtu;

  // Last of the checks: with etcd this takes a subnet, which abandon() gives back.
  const plane = await openControlPlane();
  const { network, subnet, port, ipv6 } = plane;
  if (flags.ipMasq && !subnet) {
    await plane.abandon();
    throw usageError('--ip-masq masquerades the pods\' IPv4 traffic, and this network is IPv6-only: use --ip6-masq');
  }
  if ((publicIpv6 || flags.ip6Masq) && !ipv6) {
    await plane.abandon();
    if (flags.ip6Masq && !publicIpv6) throw usageError('--ip6-masq needs a dual-stack network: an IPv6 --network and --subnet (or "EnableIPv6" in etcd\'s config)');
    throw usageError('--public-ipv6 needs a dual-stack network: an IPv6 --network and --subnet (or "EnableIPv6" in etcd\'s config)');
  }
  const backend = backendOf(plane, flags, keys !== undefined);
  if (flags.backend !== undefined && backend !== flags.backend) {
    await plane.abandon();
    throw usageError(`--backend ${flags.backend}: etcd's network config says "Backend": {"Type": "${backend}"}, and every node of a network runs its backend`);
  }
  if (isKernelBackend(backend)) {
    if (keys || flags.allowPlaintextPeers || flags.mtu !== undefined || flags.pcap !== undefined || flags.trace) {
      await plane.abandon();
      throw usageError(`the ${backend} backend has the kernel carry the packets: --private-key, --allow-plaintext-peers, --mtu, --pcap and --trace are for the udp and wireguard backends`);
    }
  } else if (flags.removeOnExit || flags.peerCounters) {
    await plane.abandon();
    throw usageError(flags.removeOnExit
      ? `--remove-on-exit is for the kernel backends (vxlan, host-gw): the ${backend} backend's TUN always goes with the daemon`
      : `--peer-counters is for the kernel backends (vxlan, host-gw): the ${backend} backend counts each peer's traffic itself`);
  } else if (ipv6 && pathMtu < IPV6.MIN_MTU) {
    await plane.abandon();
    throw usageError(`the underlay's MTU ${underlayMtu} leaves ${pathMtu} bytes inside the tunnel: IPv6 needs ${IPV6.MIN_MTU} (raise the underlay MTU, or drop the IPv6 --network)`);
  }

  const opener = isKernelBackend(backend)
    ? kernelOpener({
      type: backend, plane, publicIp, publicIpv6, vxlan: plane instanceof EtcdControlPlane && plane.vxlan ? plane.vxlan : kernelFlags.vxlan,
      removeOnExit: flags.removeOnExit ?? false, peerCounters: flags.peerCounters ?? false, log,
    })
    : userSpaceOpener(
      {
        tun: flags.tun, via: flags.via, network, subnet, ipv6, publicIp, publicIpv6, port, tunMtu, pathMtu, offload: offloadMode,
        loop: ioWaitLoop(ioWait), ioWaitMode: ioWait, trace: traceWriter(flags.trace), log,
      },
      ({ undo }) => (tun) => withCapture(tun, flags, pcapBytes, log, undo),
      keys && {
        keys, psk: pskFlag ?? plane.psk, allowPlaintextPeers: flags.allowPlaintextPeers,
        keyFile: { path: flags.privateKey!, read: () => readPrivateKeyFile(flags.privateKey!, log) },
        publishKey: (publicKey) => plane.publishKey(publicKey),
      },
    );
  return runAgent({
    plane, ...opener, publicIp, publicIpv6, subnetFile: flags.subnetFile, ipMasq: flags.ipMasq ?? false, ip6Masq: flags.ip6Masq ?? false, log, metricsAt,
    reloadControlPlane: () => reloadEtcdCredentials(flags, plane, log),
  });
}

/** SIGHUP in etcd mode: the certificate files or password re-read, and etcd reconnected with them. */
function reloadEtcdCredentials(flags: OverlayFlags, plane: ControlPlane, log: Logger): void {
  const endpoints = etcdEndpointsOf(flags);
  if (!endpoints || !plane.reloadSecurity) return;
  let security: EtcdSecurity;
  try {
    security = etcdSecurityFrom(flags, process.env, endpoints);
  } catch (err) {
    return log.warn(`SIGHUP: keeping the current etcd credentials: ${(err as Error).message}`);
  }
  if (!security.cert && !security.username) return log.info('SIGHUP: no etcd client certificate or user to reload');
  const described = describeCertificate(security);
  plane.reloadSecurity(security).then(
    (what) => log.info(`SIGHUP: reconnected to etcd with ${described}: ${what}`),
    (err: Error) => log.warn(`SIGHUP: keeping the current etcd credentials: ${err.message}`),
  );
}

/**
 * Checks the flags of one control-plane mode and returns how to open it:
 * --network/--subnet/--leases, or --etcd-endpoints, never a mix.
 */
/** etcd mode's endpoints (flags or FLANNELD_ETCD_ENDPOINTS), or undefined in leases-file mode. */
function etcdEndpointsOf(flags: OverlayFlags): string[] | undefined {
  const fileFlags = (['network', 'subnet', 'leases', 'port'] as const).filter((f) => flags[f] !== undefined);
  const text = flags.etcdEndpoints ?? (fileFlags.length ? undefined : process.env.FLANNELD_ETCD_ENDPOINTS);
  return text === undefined ? undefined : parseEndpoints(text);
}

/** "the certificate CN=node, serial 5A..." for the log: which file's certificate a reconnect used. */
function describeCertificate(security: EtcdSecurity): string {
  if (!security.cert) return `user ${security.username}`;
  try {
    const cert = new X509Certificate(security.cert);
    return `the certificate in ${security.sources.cert} (${cert.subject.replace(/\n/g, ', ')}, serial ${cert.serialNumber})`;
  } catch {
    return `the certificate in ${security.sources.cert}`;
  }
}

/** The backend flags of leases-file mode, checked: which backend (if given) and the vxlan fields. */
interface BackendFlags {
  backend?: BackendType;
  vxlan: VxlanConfig;
}

function checkBackendFlags(flags: OverlayFlags): BackendFlags {
  const b = flags.backend;
  if (b !== undefined && !(BACKEND_TYPES as readonly string[]).includes(b)) throw usageError(`--backend ${b}: use ${BACKEND_TYPES.join(', ')}`);
  if (b === 'wireguard' && !flags.privateKey) throw usageError('--backend wireguard needs --private-key FILE (tun-driver keygen --out FILE makes one)');
  if (b === 'udp' && flags.privateKey) throw usageError('--backend udp is plaintext: drop --private-key, or use --backend wireguard');
  if ((flags.vni !== undefined || flags.directRouting || flags.gbp) && b !== 'vxlan') throw usageError('--vni, --direct-routing and --gbp are for --backend vxlan');
  if (flags.etcdEndpoints !== undefined && (flags.vni !== undefined || flags.directRouting || flags.gbp)) throw usageError('--vni, --direct-routing and --gbp are leases file mode flags: with etcd, put VNI, DirectRouting and GBP in the config\'s Backend');
  const vni = flags.vni === undefined ? VXLAN_DEFAULT_VNI : intOption('--vni', flags.vni, 1, VXLAN_MAX_VNI);
  const port = flags.port === undefined ? VXLAN_PORT : intOption('--port', flags.port, 1, 65535);
  return { ...(b ? { backend: b as BackendType } : {}), vxlan: { vni, port, gbp: flags.gbp ?? false, directRouting: flags.directRouting ?? false } };
}

/** The backend this node runs: etcd's Backend.Type, or --backend (default udp, wireguard with a key). */
function backendOf(plane: ControlPlane, flags: OverlayFlags, hasKey: boolean): BackendType {
  if (plane instanceof EtcdControlPlane) return plane.networkBackend;
  return (flags.backend as BackendType | undefined) ?? (hasKey ? 'wireguard' : 'udp');
}

function controlPlaneFromFlags(flags: OverlayFlags, publicIp: number, publicKey: string | undefined, publicIpv6: Uint8Array | undefined, backendFlags: BackendFlags): () => Promise<ControlPlane> {
  const fileFlags = (['network', 'subnet', 'leases', 'port'] as const).filter((f) => flags[f] !== undefined);
  // flannel's environment: FLANNELD_ETCD_ENDPOINTS selects etcd mode too, unless leases file flags are given.
  if (flags.etcdEndpoints !== undefined && fileFlags.length) throw usageError(`--${fileFlags[0]} is for leases file mode; with --etcd-endpoints the network, subnet and port come from etcd (${flags.etcdPrefix}/config)`);
  const endpoints = etcdEndpointsOf(flags);
  if (endpoints !== undefined) {
    const security = etcdSecurityFrom(flags, process.env, endpoints);
    if (!/^\/[^\s]*[^/\s]$/.test(flags.etcdPrefix)) throw usageError(`--etcd-prefix ${flags.etcdPrefix}: use a key path like /coreos.com/network (leading /, no trailing /)`);
    const leaseTtlSeconds = intOption('--subnet-lease-ttl', flags.subnetLeaseTtl, 2, 7 * 86400);
    const connectTimeoutMs = intOption('--etcd-timeout', flags.etcdTimeout, 1, 600) * 1000;
    const backend = (config: NetworkConfig): PublishedBackend | undefined => publishedBackend(config, publicIp, !!publicIpv6);
    return () => EtcdControlPlane.open({ endpoints, prefix: flags.etcdPrefix, publicIp, subnetFile: flags.subnetFile, leaseTtlSeconds, connectTimeoutMs, publicKey, security, publicIpv6, backend });
  }
  const missing = (['network', 'subnet', 'leases'] as const).filter((f) => flags[f] === undefined);
  if (missing.length) throw usageError(`give --${missing.join(', --')} (leases file mode), or --etcd-endpoints (etcd mode)`);
  const networks = familyFlags('--network', flags.network!);
  const subnets = familyFlags('--subnet', flags.subnet!);
  const network = networks.v4;
  const subnet = subnets.v4;
  if (!!network !== !!subnet) throw usageError(network ? `an IPv4 --network needs this node's IPv4 --subnet too (e.g. ${formatCidr(network, false).replace(/\.0\.0\/\d+$/, '.1.0/24')})` : 'an IPv4 --subnet needs the IPv4 --network it belongs to');
  if (!network && !networks.v6) throw usageError(`give a --network and --subnet of at least one family: got ${[...flags.network!, ...flags.subnet!].join(', ')}`);
  if (network && subnet && (subnet.length < network.length || !prefixContains(network, subnet.network))) throw usageError(`--subnet ${formatCidr(subnet, false)} is outside --network ${formatCidr(network, false)}`);
  if (subnet && subnet.length > 30) throw usageError(`--subnet ${formatCidr(subnet, false)}: use /30 or shorter`);
  if (!!networks.v6 !== !!subnets.v6) throw usageError(networks.v6 ? `an IPv6 --network needs this node's IPv6 --subnet too (e.g. ${formatCidr6(networks.v6, false).replace(/::\/\d+$/, ':1::/64')})` : 'an IPv6 --subnet needs the IPv6 --network it belongs to');
  let ipv6: { network6: Prefix6; subnet6: Prefix6 } | undefined;
  if (networks.v6 && subnets.v6) {
    const [network6, subnet6] = [networks.v6, subnets.v6];
    if (subnet6.length < network6.length || !prefix6Contains(network6, subnet6.network)) throw usageError(`--subnet ${formatCidr6(subnet6, false)} is outside --network ${formatCidr6(network6, false)}`);
    if (subnet6.length > 64) throw usageError(`--subnet ${formatCidr6(subnet6, false)}: use /64 or shorter (pods' addresses come from it)`);
    ipv6 = { network6, subnet6 };
  }
  const kernel = backendFlags.backend !== undefined && isKernelBackend(backendFlags.backend);
  // A kernel backend's port is the VXLAN one (8472) or none: the leases file's per-node ports are the udp backend's.
  const port = kernel ? backendFlags.vxlan.port : flags.port === undefined ? DEFAULT_PORT : intOption('--port', flags.port, 1, 65535);
  const plane = new FileControlPlane(network, subnet, publicIp, port, flags.leases!, publicKey, ipv6, kernel);
  return async () => plane;
}

