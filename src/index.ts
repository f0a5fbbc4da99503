// The public API of tun-driver: `import { LinuxTun, ... } from 'tun-driver'`.
// Everything exported here is a contract (docs on each declaration); the
// rest of src/ is internal and may change. Requires Linux and, for
// devices, namespaces and sockets, root or CAP_NET_ADMIN. Errors are
// TunDriverError with a stable `code` ('TUN_ERR_PERMISSION', ...).

// TUN devices, their offload edge, and the device interface the engines take.
export { LinuxTun, checkInterfaceName, checkMtu, IFNAMSIZ, MIN_MTU, MAX_MTU } from './tun/linux-tun.js';
export type { TunCreateOptions, OffloadCounters } from './tun/linux-tun.js';
export type { OffloadMode, OffloadState } from './tun/offload.js';
export type { PacketDevice, WriteResult } from './tun/device.js';
export { MemoryTun } from './tun/memory-tun.js';

// Batch memory, and datagram sockets driven in batches (UDP GSO/GRO).
export { RxBatch, SpanList, TxQueue } from './io/batch.js';
export type { Spans } from './io/batch.js';
export { DatagramSocket } from './io/datagram-socket.js';
export type { DatagramSocketOptions, StandInAddresses } from './io/datagram-socket.js';
// Waiting for packets in poll() slices while traffic flows (--io-wait poll).
export { LINGER_MS, PollLoop, BUSY_WAKES_PER_S, CALM_WAKES_PER_S } from './io/poll-loop.js';
export type { PollLoopStats } from './io/poll-loop.js';
export type { ReadableCallback } from './io/poll-loop.js';
export { openOverlaySocket as openUdpSocket } from './overlay/udp-socket.js';
export type { UdpSocketOptions } from './overlay/udp-socket.js';

// rtnetlink: links, addresses, routes (each call names its `ip` twin).
export { NetlinkSocket, NetlinkError } from './netlink/socket.js';
export type { NetlinkOpenOptions } from './netlink/socket.js';
export { linkList, linkGet, linkByName, linkSetUp, linkSetMtu, linkSetMaster, linkSetNetns, linkDelete, linkAddBridge, linkAddVeth, linkAddVxlan, linkSetAddress } from './netlink/link.js';
export type { Link, LinkStats, VxlanInfo, VxlanSpec } from './netlink/link.js';
export { neighList, neighReplace, neighDelete, fdbList, fdbReplace, fdbDelete } from './netlink/neigh.js';
export type { Neighbour, IpAddress } from './netlink/neigh.js';
export { addrList, addr6List, addrAdd, addrDelete } from './netlink/addr.js';
export type { Address, Address6 } from './netlink/addr.js';
export { routeList, route6List, routeAdd, routeReplace, routeDelete, describeRoute } from './netlink/route.js';
export type { Route, RouteSpec, Route6, Route6Spec } from './netlink/route.js';
export { ruleAdd, ruleDelete } from './netlink/rule.js';
export type { OifRule } from './netlink/rule.js';

// Packet views and checksums.
export { IPv4View, IPPROTO, writeIPv4Header } from './packet/ipv4.js';
export type { IPv4Problem, IPv4HeaderFields } from './packet/ipv4.js';
export { IcmpView, ICMP_TYPE, ICMP_UNREACH, writeEchoPacket } from './packet/icmp.js';
export { UdpView } from './packet/udp.js';
export { checksum, sumWords, foldChecksum, updateChecksum16, updateChecksum32 } from './packet/checksum.js';
export { payloadSum, l4Checksum, l4ChecksumValid } from './packet/payload-sum.js';
export { parseIPv4, formatIPv4, parseCidr, formatCidr, prefixContains } from './packet/addr.js';
export type { Prefix } from './packet/addr.js';
export { parseIPv6, formatIPv6, parseCidr6, formatCidr6, prefix6Contains, parseAnyCidr } from './packet/addr6.js';
export type { Prefix6, AnyPrefix } from './packet/addr6.js';
export { IPv6View, IPV6, NEXT_HEADER, writeIPv6Header } from './packet/ipv6.js';
export type { IPv6Problem, IPv6HeaderFields } from './packet/ipv6.js';
export { Icmp6View, ICMP6_TYPE, ICMP6_UNREACH, writeEcho6Packet } from './packet/icmp6.js';
export type { Echo6PacketFields } from './packet/icmp6.js';

// The engines, behind the PacketDevice and network interfaces.
export { RelayCore } from './relay/relay-core.js';
export type { RelayCoreOptions, RelayPartner, RelayCoreReason } from './relay/relay-core.js';
export { IcmpRelay } from './relay/relay.js';
export type { RelayOptions } from './relay/relay.js';
export type { IcmpNetwork } from './relay/network.js';
export { Icmp6Relay } from './relay/relay6.js';
export type { Relay6Options } from './relay/relay6.js';
export { Span6List } from './io/batch.js';
export type { Icmp6Network } from './relay/network6.js';
export { RawIcmp6Socket } from './relay/raw-icmp6-socket.js';
export type { RawIcmp6Options } from './relay/raw-icmp6-socket.js';
export { Overlay } from './overlay/overlay.js';
export type { PeerChanges } from './overlay/lease-peers.js';
export type { LeaseDelta } from './subnet/control-plane.js';
export type { OverlayOptions, UdpNetwork } from './overlay/overlay.js';
export type { PeerTransport, TransportFactory, TransportContext, PeerDirectory } from './overlay/peer-transport.js';
export { plainTransport, PlainTransport } from './backend/udp/transport.js';
export { MemoryUdp } from './overlay/memory-udp.js';
export type { SentDatagram } from './overlay/memory-udp.js';
export { MemoryIcmp, MemoryIcmp6 } from './relay/memory-icmp.js';
export type { SentIcmp, SentIcmp6 } from './relay/memory-icmp.js';
export { MemorySocket } from './io/memory-socket.js';
export { Underlay6Endpoints, DualUnderlay } from './overlay/underlay6.js';
export type { Underlay6Options } from './overlay/underlay6.js';

// The namespace lab, for other projects' integration tests; its pods are added through the CNI plugin.
export { Lab } from './lab/lab.js';
export { addPod, checkPod, deletePod, podsOf, labCniConf } from './lab/lab-pods.js';
export type { PodNetwork } from './lab/lab-pods.js';

// The CNI plugin (the tun-driver-cni executable runs runCniPlugin), for runtimes and tests that call it in-process.
export { runCniPlugin } from './cni/cni-plugin.js';
export type { CniAnswer } from './cni/cni-plugin.js';
export { CniError, CNI_CODE } from './cni/cni-error.js';
export { delegateConf } from './cni/delegate-conf.js';
export { parseNetConf, SUPPORTED_VERSIONS } from './cni/net-conf.js';
export type { NetConf, JsonObject } from './cni/net-conf.js';
export type { SubnetEnv } from './subnet/etcd/subnet-env.js';
export { presetTopology } from './lab/presets.js';
export { validateTopology } from './lab/topology.js';

// Types the API above refers to (its results and options).
export type { SumFn } from './packet/payload-sum.js';
export type { IcmpProblem, EchoPacketFields } from './packet/icmp.js';
export type { UdpProblem } from './packet/udp.js';
export type { NlMessage, MessageBuilder } from './netlink/nl/codec.js';
export type { RelayCounters, DropReason as RelayDropReason } from './relay/counters.js';
export type { FlowTable, Flow6Table, FlowTableOf, Flow } from './relay/flow-table.js';
export type { Relay6Counters, Drop6Reason } from './relay/counters6.js';
export type { Probe } from './control/probe.js';
export type { OverlayCounters, OverlayDropReason } from './overlay/counters.js';
export type { DropCounts } from './util/drop-counts.js';
export type { Peer } from './overlay/route-table.js';
export type { Lease } from './subnet/leases.js';
export type { LabState, LabNode, NodeKind } from './lab/state.js';
export type { LabSummary } from './lab/lab.js';
export type { PresetOptions } from './lab/presets.js';

// WireGuard, the encrypted overlay's protocol (docs/security.md): keys, and a transport for any UDP socket.
export { generatePrivateKey, publicKeyOf, keyPairOf } from './wireguard/keys.js';
export type { NodeKeyPair } from './wireguard/keys.js';
export { WireGuard, CONSUMED, DROPPED, paddedLength } from './wireguard/device.js';
export type { WireGuardOptions, WireGuardDropReason } from './wireguard/device.js';
export { WgPeer } from './wireguard/peer.js';
export { Keypair } from './wireguard/keypair.js';
export { TRANSPORT_OVERHEAD } from './wireguard/messages.js';
export { ReplayWindow, REPLAY_WINDOW } from './wireguard/replay-window.js';
export type { NoisePeer, Handshake, HandshakeState, StaticIdentity } from './wireguard/noise.js';
export type { CookieGenerator } from './wireguard/cookie.js';
export type { Keypairs } from './wireguard/keypair.js';
export type { NativeTransportKey } from './native/addon.js';

// What a daemon answers to `tun-driver status` (its control socket).
export type { PeerSecurity, WireGuardPeerStatus, IoWaitStatus } from './control/daemon-status.js';
export type { DaemonStatus, DaemonInfo, EngineStatus, RelayStatus, OverlayStatus, OffloadStatus, PeerStatus, LeaseSourceStatus, RelayCountersJson, OverlayCountersJson, PeerCountersJson, RelayFlowStatus, KernelBackendStatus, KernelPeerStatus, EntryStatus } from './control/daemon-status.js';

export { TunDriverError } from './errors.js';
export type { TunErrorCode } from './errors.js';
