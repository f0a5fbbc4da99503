// WireGuard's protocol constants (the paper, section 6.1; wireguard-go
// device/constants.go). Times are in milliseconds.

export const REKEY_AFTER_MESSAGES = 2 ** 60;
/** 2^64 - 2^13 - 1: counters stay far below 2^53 in practice (messages.ts readCounter), so this bound is never reached first. */
export const REJECT_AFTER_MESSAGES = 2 ** 64 - 2 ** 13 - 1;
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
