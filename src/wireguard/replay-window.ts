// A sliding anti-replay window over 8,192 counters (RFC 6479, as WireGuard
// keeps it; wireguard-go's window is 8,128): a ring of 256 32-bit words. A counter above the highest seen
// moves the window (clearing only the words it passes); one inside it is
// looked up by its bit; one that fell out of it is refused. Checking and
// marking are separate, so a forged datagram (checked, then failing
// authentication) never moves the window.

const WORD_BITS = 32;
const WORDS = 256;
const RING_BITS = WORD_BITS * WORDS; // 8192
/** How far below the highest counter a datagram may still arrive: the ring less one word, which the slide clears. */
export const REPLAY_WINDOW = RING_BITS - WORD_BITS;

/** Which counters of one keypair were seen: new ones pass once, old ones within {@link REPLAY_WINDOW} are looked up, older ones are refused. */
export class ReplayWindow {
  private readonly ring = new Uint32Array(WORDS);
  /** Highest counter marked; -1 before the first. */
  private highest = -1;

  /** Whether `counter` may be new: above the window's top, or inside it and not seen. */
  check(counter: number): boolean {
    if (counter > this.highest) return true;
    if (this.highest - counter >= REPLAY_WINDOW) return false;
    const word = Math.floor(counter / WORD_BITS) % WORDS;
    return (this.ring[word] & (1 << (counter % WORD_BITS))) === 0;
  }

  /** Records `counter` as seen (call only after it authenticated, and after check() said yes). */
  mark(counter: number): void {
    if (counter > this.highest) {
      const top = Math.floor(counter / WORD_BITS);
      const oldTop = this.highest < 0 ? top - WORDS : Math.floor(this.highest / WORD_BITS);
      for (let w = oldTop + 1; w <= top && w - oldTop <= WORDS; w++) this.ring[w % WORDS] = 0;
      this.highest = counter;
    }
    const word = Math.floor(counter / WORD_BITS) % WORDS;
    this.ring[word] |= 1 << (counter % WORD_BITS);
  }
}
