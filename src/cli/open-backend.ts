// How `tun-driver overlay` opens the backend it runs, once the flags are
// checked and the subnet taken: each function gives the agent the daemon's
// name and an opener (src/cli/agent.ts calls it inside its undo scope).
import type { Logger } from '../log.js';
import { NetlinkSocket } from '../netlink/socket.js';
import type { ControlPlane } from '../subnet/control-plane.js';
import { describeSubnets } from '../subnet/leases.js';
import type { VxlanConfig } from '../subnet/etcd/network-config.js';
import type { Backend, KernelBackend, KernelBackendType } from '../backend/backend.js';
import { KernelDataPlane } from '../backend/kernel-data-plane.js';
import { PeerCounters } from '../backend/peer-counters.js';
import { findUnderlay } from '../backend/underlay.js';
import { VxlanBackend } from '../backend/vxlan/vxlan.js';
import { HostGwBackend } from '../backend/host-gw/host-gw.js';
import { TunEngineBackend, TunEngineOptions } from '../backend/tun-engine.js';
import { WireGuardBackend, WireGuardBackendOptions } from '../backend/wireguard/backend.js';
import type { OpenContext } from './agent.js';

/** The agent's name for the daemon and how to open its backend. */
export interface BackendOpener {
  name: string;
  open(ctx: OpenContext): Backend | Promise<Backend>;
}

export interface KernelOpenOptions {
  type: KernelBackendType;
  plane: ControlPlane;
  publicIp: number;
  publicIpv6?: Uint8Array;
  /** The vxlan backend's fields (etcd's Backend, or the flags in leases-file mode). */
  vxlan: VxlanConfig;
  removeOnExit: boolean;
  /** Count each peer's traffic in nftables (--peer-counters). */
  peerCounters: boolean;
  log: Logger;
}

/** vxlan or host-gw: the VTEPs made or adopted (vxlan), the underlay found, on a netlink socket of their own. */
export function kernelOpener(o: KernelOpenOptions): BackendOpener {
  const { subnet, ipv6 } = o.plane;
  const log = (line: string): void => o.log.info(line);
  const name = o.type === 'vxlan' ? VxlanBackend.deviceName(o.vxlan.vni, subnet ? 4 : 6) : 'host-gw';
  return {
    name,
    open: () => {
      // First: without nft this fails before anything else is made.
      const peerCounters = o.peerCounters ? PeerCounters.open(name) : undefined;
      const nl = NetlinkSocket.open();
      let kernel: KernelBackend;
      try {
        const underlay = findUnderlay(nl, o.publicIp, o.publicIpv6);
        kernel = o.type === 'vxlan'
          ? VxlanBackend.open(nl, { ...o.vxlan, underlay, subnet, subnet6: ipv6?.subnet6, log })
          : new HostGwBackend(nl, { underlay, subnet, subnet6: ipv6?.subnet6, log });
      } catch (err) {
        nl.close();
        peerCounters?.close();
        throw err;
      }
      const note = o.type === 'vxlan' && o.vxlan.directRouting ? ' direct-routing' : '';
      return new KernelDataPlane(kernel, { removeOnExit: o.removeOnExit, note, ownSubnets: describeSubnets({ subnet, subnet6: ipv6?.subnet6 }), log, nl, peerCounters });
    },
  };
}

/**
 * udp or wireguard: the TUN, the sockets and our engine. `wrapTun` gets
 * the undo stack (the --pcap file closes after the engine stops).
 */
export function userSpaceOpener(o: Omit<TunEngineOptions, 'wrapTun' | 'observeBatch'>, wrapTun: (ctx: OpenContext) => TunEngineOptions['wrapTun'], wireguard?: WireGuardBackendOptions): BackendOpener {
  return {
    name: o.tun,
    open: (ctx) => {
      const options: TunEngineOptions = { ...o, wrapTun: wrapTun(ctx), observeBatch: ctx.observeBatch };
      return wireguard ? WireGuardBackend.openWireGuard(options, wireguard) : TunEngineBackend.open(options);
    },
  };
}
