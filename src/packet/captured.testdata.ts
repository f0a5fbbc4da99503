// Packets captured with tcpdump -x on a veth pair between two tdlab-
// namespaces (198.51.100.1 <-> 198.51.100.2), kept as hex so the header
// views and checksums are tested against what a real kernel put on the wire.
//   ping -c 1 -s 56 -p 5a5a 198.51.100.2       -> ECHO_REQUEST, ECHO_REPLY
//   traceroute -q 1 -m 1 -n 198.51.100.2        -> UDP_PROBE
// veth offloads UDP checksums, so UDP_PROBE as captured on the sender holds
// CHECKSUM_PARTIAL: the folded, uncomplemented pseudo-header sum (0x54a4),
// not the final checksum the receiver would verify.
export const ECHO_REQUEST =
  '4500 0054 9ad8 4000 4001 4b66 c633 6401 c633 6402 0800 84f7 08ee 0001 b055 066b' +
  '0000 0000 9749 0d00 0000 0000 5a5a 5a5a 5a5a 5a5a 5a5a 5a5a 5a5a 5a5a 5a5a 5a5a' +
  '5a5a 5a5a 5a5a 5a5a 5a5a 5a5a 5a5a 5a5a 5a5a 5a5a';

export const ECHO_REPLY =
  '4500 0054 f484 0000 4001 31ba c633 6402 c633 6401 0000 8cf7 08ee 0001 b055 066b' +
  '0000 0000 9749 0d00 0000 0000 5a5a 5a5a 5a5a 5a5a 5a5a 5a5a 5a5a 5a5a 5a5a 5a5a' +
  '5a5a 5a5a 5a5a 5a5a 5a5a 5a5a 5a5a 5a5a 5a5a 5a5a';

export const UDP_PROBE =
  '4500 003c d06e 0000 0111 94d8 c633 6401 c633 6402 a014 829a 0028 54a4 4041 4243' +
  '4445 4647 4849 4a4b 4c4d 4e4f 5051 5253 5455 5657 5859 5a5b 5c5d 5e5f';
