// IPv6 packets as a real kernel wrote them into a TUN (read from tun19 in a
// tdlab- namespace, address fd00:1::3/64), kept as hex so the IPv6 views,
// the ICMPv6 checksum and reassembly are tested against kernel output.
//   (the kernel on bringing tun19 up)               -> ROUTER_SOLICIT
//   ping -6 -c 1 -s 56 -p 5a5a -I tun19 fd00:1::9   -> ECHO6_REQUEST
//   ping -6 -c 1 -s 1600 -p a5 -I tun19 fd00:1::9   -> ECHO6_FRAGMENT_FIRST, ECHO6_FRAGMENT_LAST (MTU 1500)
// A long run of one byte is written as .repeat() of it.
export const ROUTER_SOLICIT =
  '6000000000083afffe80000000000000ee36dda0c4b983f5ff020000000000000000000000000002850068b000000000';

export const ECHO6_REQUEST =
  '6003789600403a40fd000001000000000000000000000003fd0000010000000000000000000000098000fe2952aa00015efa0e6b00000000b62b020000000000' + '5a'.repeat(40);

export const ECHO6_FRAGMENT_FIRST =
  '6003789605b02c40fd000001000000000000000000000003fd0000010000000000000000000000093a0000017470ecb18000d81652ab00015efa0e6b0000000068cc060000000000' + 'a5'.repeat(1424);

export const ECHO6_FRAGMENT_LAST =
  '6003789600a82c40fd000001000000000000000000000003fd0000010000000000000000000000093a0005a87470ecb1' + 'a5'.repeat(160);
