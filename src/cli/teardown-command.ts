// `tun-driver overlay-teardown`: removes what a kernel backend left in the
// kernel after its agent stopped (the agent leaves its data plane in place
// on purpose, so pods keep talking across a restart).
import { Command } from 'commander';
import { linkDelete, linkGet } from '../netlink/link.js';
import { route6List, routeDelete, routeList } from '../netlink/route.js';
import { NetlinkSocket } from '../netlink/socket.js';
import { RTPROT_TUN_DRIVER } from '../backend/kernel-entries.js';
import { VXLAN_DEFAULT_VNI, VXLAN_MAX_VNI } from '../subnet/etcd/network-config.js';
import { intOption, usageError } from './output.js';
import { peerCountersTable } from '../backend/peer-counters.js';
import { nft } from '../netns/nft.js';

/** Deletes daemon `name`'s peer counters table if it is there (without nft there is none to delete). */
function removePeerCounters(name: string): boolean {
  try {
    return nft(['delete', 'table', 'inet', peerCountersTable(name)], 'overlay-teardown').ok;
  } catch {
    return false;
  }
}

export function teardownCommand(): Command {
  return new Command('overlay-teardown')
    .description("remove a stopped kernel backend's data plane: vxlan's flannel.<vni> and flannel-v6.<vni> devices (their neighbours, FDB entries and routes go with them) and the routes tun-driver tagged as its own (proto 75: host-gw, DirectRouting), and a crashed agent's --peer-counters table")
    .requiredOption('--backend <type>', 'vxlan or host-gw')
    .option('--vni <n>', `vxlan: the VNI (default ${VXLAN_DEFAULT_VNI})`)
    .addHelpText('after', '\nExamples:\n  tun-driver overlay-teardown --backend vxlan\n  tun-driver overlay-teardown --backend host-gw\n  tun-driver lab exec host-1 -- tun-driver overlay-teardown --backend vxlan --vni 7\n')
    .action((opts: { backend: string; vni?: string }) => {
      if (opts.backend !== 'vxlan' && opts.backend !== 'host-gw') throw usageError(`--backend ${opts.backend}: use vxlan or host-gw (the udp and wireguard backends remove their TUN themselves)`);
      if (opts.vni !== undefined && opts.backend !== 'vxlan') throw usageError('--vni is for --backend vxlan');
      const vni = opts.vni === undefined ? VXLAN_DEFAULT_VNI : intOption('--vni', opts.vni, 1, VXLAN_MAX_VNI);
      const nl = NetlinkSocket.open();
      const removed: string[] = [];
      try {
        for (const r of [...routeList(nl), ...route6List(nl)]) {
          if (r.protocol !== RTPROT_TUN_DRIVER) continue;
          routeDelete(nl, r);
          removed.push('a route');
        }
        if (opts.backend === 'vxlan') {
          for (const name of [`flannel.${vni}`, `flannel-v6.${vni}`]) {
            const link = linkGet(nl, name);
            if (!link) continue;
            if (!link.vxlan) throw usageError(`${name} is not a VXLAN device (kind ${link.kind ?? 'none'}): not ours, left alone`);
            linkDelete(nl, link.index);
            removed.push(name);
          }
        }
      } finally {
        nl.close();
      }
      // A crashed agent's --peer-counters table (a stopped agent removes its own).
      for (const name of opts.backend === 'vxlan' ? [`flannel.${vni}`, `flannel-v6.${vni}`] : ['host-gw']) {
        if (removePeerCounters(name)) removed.push(peerCountersTable(name));
      }
      const routes = removed.filter((r) => r === 'a route').length;
      const devices = removed.filter((r) => r !== 'a route');
      process.stdout.write(removed.length ? `removed ${[...devices, ...(routes ? [`${routes} route(s) of proto ${RTPROT_TUN_DRIVER}`] : [])].join(', ')}\n` : 'nothing to remove\n');
    });
}
