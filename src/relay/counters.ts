// What the relay counts: packets it moved, errors it relayed or gave, and
// every packet it dropped, by reason.
import { RelayCountersJson } from '../control/daemon-status.js';
import { DropCounts } from '../util/drop-counts.js';

/** Why the relay dropped a packet (each a counter). */
export type DropReason =
  | 'malformed' // not a valid IPv4 packet / ICMP message from the TUN
  | 'ipv6' // IPv6 (router solicitations, MLD, ...): the relay is IPv4 only
  | 'not-icmp' // TCP/UDP/... that could not be answered (non-first fragment, broadcast)
  | 'not-echo-request' // ICMP from the TUN that is not an echo request
  | 'bad-source' // source outside the TUN subnet
  | 'broadcast' // echo to a broadcast/multicast address
  | 'flow-table-full'
  | 'reassembly-overlap'
  | 'reassembly-too-big'
  | 'reassembly-table-full'
  | 'reassembly-bad-length'
  | 'send-failed' // the kernel refused to send a request
  | 'tun-write-failed' // the TUN refused a reply
  | 'fragment-failed' // a reply too big for the TUN that could not be fragmented
  | 'net-malformed' // an invalid packet from the network socket
  | 'error-rate-limited' // an ICMP error we would have given, over the rate limit
  | 'internal-error';

/** The relay's counters: requests, replies, errors relayed and generated, and drops by reason (a union per family). */
export class RelayCounters<Reason extends string = DropReason> {
  /** Echo requests sent to the network. */
  requests = 0;
  /** Bytes of the requests read from the TUN and handed to the socket (IP packets). */
  requestBytes = 0;
  /** Echo replies written into the TUN. */
  replies = 0;
  /** Bytes of replies and errors written into the TUN (IP packets). */
  replyBytes = 0;
  /** ICMP errors from the network, rewritten and written into the TUN. */
  errorsRelayed = 0;
  /** ICMP errors the relay gave itself (unreachable, prohibited). */
  errorsGenerated = 0;
  /** Fragments read from the TUN, and the whole packets they made. */
  fragmentsIn = 0;
  reassembled = 0;
  /** Replies written into the TUN in fragments because they exceeded its MTU. */
  repliesFragmented = 0;
  /** ICMP from the network that belongs to no flow (e.g. pings to this host): ignored, not relayed. */
  ignored = 0;
  /** The relay's own writes into the TUN, delivered on this host and seen again by its raw socket: skipped. */
  ownCopies = 0;
  readonly drops = new DropCounts<Reason>();

  /** Counts `n` (default 1) drops for `reason`. */
  drop(reason: Reason, n = 1): void {
    this.drops.add(reason, n);
  }

  /** The counters as status and the JSON exit line show them. */
  toJSON(): RelayCountersJson {
    return {
      requests: this.requests, requestBytes: this.requestBytes, replies: this.replies, replyBytes: this.replyBytes, errorsRelayed: this.errorsRelayed, errorsGenerated: this.errorsGenerated,
      fragmentsIn: this.fragmentsIn, reassembled: this.reassembled, repliesFragmented: this.repliesFragmented, ignored: this.ignored, ownCopies: this.ownCopies,
      dropped: this.drops.toJSON(),
    };
  }

  /** One line for people (SIGUSR1 and the exit line). */
  format(): string {
    return `requests ${this.requests}, replies ${this.replies}, errors relayed ${this.errorsRelayed}, errors generated ${this.errorsGenerated}, ` +
      `fragments in ${this.fragmentsIn} (${this.reassembled} reassembled), replies fragmented ${this.repliesFragmented}, ignored ${this.ignored} (+${this.ownCopies} own copies); ` +
      this.drops.format();
  }
}
