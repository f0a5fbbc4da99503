// WireGuard's protocol constants (the paper, section 6.1; wireguard-go
// device/constants.go). Times are in milliseconds.

/**
 * The paper's 2^60 and 2^64 - 2^13 - 1 count messages in 64 bits. Here a
 * counter is a JavaScript number, exact below 2^53, and a receiver refuses
 * 2^53 or more (messages.ts readCounter): a session sends at most 2^53
 * messages and rekeys at 2^52, both out of reach in practice (2^52 messages
 * at 10 million a second take 14 years) but never passed by a wrap.
 */
export const REKEY_AFTER_MESSAGES = 2 ** 52;
export const REJECT_AFTER_MESSAGES = 2 ** 53;
export const REKEY_AFTER_TIME = 120_000;
export const REJECT_AFTER_TIME = 180_000;
export const REKEY_ATTEMPT_TIME = 90_000;
export const REKEY_TIMEOUT = 5_000;
/** Handshake retries within REKEY_ATTEMPT_TIME before giving up. */
export const MAX_TIMER_HANDSHAKES = REKEY_ATTEMPT_TIME / REKEY_TIMEOUT;
/** Up to this much random delay is added to each REKEY_TIMEOUT, so two peers do not retry in lockstep. */
export const REKEY_TIMEOUT_JITTER_MAX = 334;
export const KEEPALIVE_TIMEOUT = 10_000;
/** Keys are zeroed after this long without a new handshake. */
export const ZERO_KEYS_AFTER = REJECT_AFTER_TIME * 3;
/** Packets held for a peer while its handshake is under way (wireguard-go's QueueStagedSize). */
export const STAGED_PACKETS = 128;
