// Links, addresses and routes with the rtnetlink API, each call the twin
// of an `ip` command: a bridge with an address, a route through it, and a
// listing of the main table, like `ip -j route`.
//
//   node dist/examples/netlink-routes.js [--keep]
//
// Needs root or CAP_NET_ADMIN; run it in a network namespace of your own.
// Without --keep it removes what it made.
import { addrAdd, describeRoute, linkAddBridge, linkByName, linkDelete, linkSetUp, NetlinkSocket, parseCidr, parseIPv4, routeAdd, routeList } from 'tun-driver';

const keep = process.argv.includes('--keep');
const nl = NetlinkSocket.open();
try {
  linkAddBridge(nl, 'tdex-br0'); //                          ip link add tdex-br0 type bridge
  const br = linkByName(nl, 'tdex-br0');
  addrAdd(nl, br.index, parseCidr('10.79.0.1/24')); //       ip addr add 10.79.0.1/24 dev tdex-br0
  linkSetUp(nl, br.index, true); //                          ip link set tdex-br0 up
  routeAdd(nl, { dst: parseCidr('10.80.0.0/16'), gateway: parseIPv4('10.79.0.254'), oif: br.index }); // ip route add 10.80.0.0/16 via 10.79.0.254
  for (const r of routeList(nl)) console.log(describeRoute(r)); // ip route show
  if (!keep) linkDelete(nl, br.index); //                    ip link del tdex-br0 (its routes go with it)
} finally {
  nl.close();
}
