// rtnetlink numbers from <linux/netlink.h>, <linux/rtnetlink.h>,
// <linux/if_link.h>, <linux/if_addr.h> and <linux/if.h>.

export const NLMSG = { NOOP: 1, ERROR: 2, DONE: 3, HEADER_LEN: 16 } as const;

export const NLM_F = {
  REQUEST: 0x1,
  MULTI: 0x2,
  ACK: 0x4,
  DUMP_INTR: 0x10,
  // GET requests
  DUMP: 0x300,
  // NEW requests
  REPLACE: 0x100,
  EXCL: 0x200,
  CREATE: 0x400,
  APPEND: 0x800,
  // flags on NLMSG_ERROR
  CAPPED: 0x100,
  ACK_TLVS: 0x200,
} as const;

/** Extended-ack attributes carried by NLMSG_ERROR (NLMSGERR_ATTR_*). */
export const NLMSGERR_ATTR = { MSG: 1, OFFS: 2 } as const;

export const RTM = {
  NEWLINK: 16,
  DELLINK: 17,
  GETLINK: 18,
  NEWADDR: 20,
  DELADDR: 21,
  GETADDR: 22,
  NEWROUTE: 24,
  DELROUTE: 25,
  GETROUTE: 26,
  NEWRULE: 32,
  DELRULE: 33,
  GETRULE: 34,
  NEWNEIGH: 28,
  DELNEIGH: 29,
  GETNEIGH: 30,
} as const;

export const IFLA = {
  ADDRESS: 1,
  IFNAME: 3,
  MTU: 4,
  LINK: 5,
  MASTER: 10,
  OPERSTATE: 16,
  LINKINFO: 18,
  NET_NS_PID: 19,
  STATS64: 23,
  EXT_MASK: 29,
  NET_NS_FD: 28,
} as const;

export const IFLA_INFO = { KIND: 1, DATA: 2 } as const;
export const VETH_INFO = { PEER: 1 } as const;

/** IFLA_VXLAN_* inside IFLA_INFO_DATA of kind "vxlan" (<linux/if_link.h>); PORT is big-endian, GBP a flag without payload. */
export const IFLA_VXLAN = { ID: 1, LINK: 3, LOCAL: 4, LEARNING: 7, PORT: 15, LOCAL6: 17, GBP: 23 } as const;

/** Neighbour attributes (NDA_*, <linux/neighbour.h>). */
export const NDA = { DST: 1, LLADDR: 2, PORT: 6, VNI: 7, IFINDEX: 8 } as const;
/** Neighbour states (NUD_*): a permanent entry never expires nor is probed. */
export const NUD = { REACHABLE: 0x02, STALE: 0x04, NOARP: 0x40, PERMANENT: 0x80 } as const;
/** Neighbour flags (NTF_*): SELF addresses the device's own table (a vxlan's FDB) rather than a bridge master's. */
export const NTF = { SELF: 0x02, MASTER: 0x04 } as const;
/** The family of FDB entries (bridge and vxlan forwarding databases). */
export const AF_BRIDGE = 7;

/** Route flags in rtmsg.rtm_flags: ONLINK takes the gateway as on the link whatever its address (`ip route ... onlink`). */
export const RTNH_F = { ONLINK: 0x4 } as const;

export const IFA = { ADDRESS: 1, LOCAL: 2, LABEL: 3, BROADCAST: 4 } as const;

export const RTA = { DST: 1, SRC: 2, IIF: 3, OIF: 4, GATEWAY: 5, PRIORITY: 6, PREFSRC: 7, TABLE: 15 } as const;

export const RT_TABLE = { MAIN: 254, LOCAL: 255 } as const;
export const RTPROT = { UNSPEC: 0, KERNEL: 2, BOOT: 3, STATIC: 4 } as const;
export const RT_SCOPE = { UNIVERSE: 0, LINK: 253, HOST: 254, NOWHERE: 255 } as const;
export const RTN = { UNSPEC: 0, UNICAST: 1, LOCAL: 2, BROADCAST: 3 } as const;

export const IFF = { UP: 0x1, BROADCAST: 0x2, LOOPBACK: 0x8, POINTOPOINT: 0x10, RUNNING: 0x40, NOARP: 0x80, MULTICAST: 0x1000, LOWER_UP: 0x10000 } as const;

/** IF_OPER_* as reported in IFLA_OPERSTATE (RFC 2863 names, lower case like `ip`). */
export const OPERSTATES = ['unknown', 'notpresent', 'down', 'lowerlayerdown', 'testing', 'dormant', 'up'] as const;

export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_INET6 = 10;

/** IFA_F_* address flags (the low 8 fit struct ifaddrmsg's ifa_flags). */
export const IFA_F = { NODAD: 0x02, TENTATIVE: 0x40, PERMANENT: 0x80 } as const;

/** FIB rule attributes (FRA_*) and actions, <linux/fib_rules.h>. */
export const FRA = { PRIORITY: 6, TABLE: 15, OIFNAME: 17 } as const;
export const FR_ACT = { TO_TBL: 1 } as const;
