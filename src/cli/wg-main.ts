#!/usr/bin/env node
// The tun-driver-wg executable: `tun-driver-wg [-f] <ifname>`, as
// `wireguard-go [-f] <ifname>` is called (wg-quick runs
// $WG_QUICK_USERSPACE_IMPLEMENTATION <ifname>). The same as `tun-driver wireguard`.
process.argv.splice(2, 0, 'wireguard');
await import('./main.js');
