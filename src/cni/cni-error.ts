// The CNI spec's errors: a plugin that fails prints
// {"cniVersion","code","msg","details"} on stdout and exits non-zero.
// Codes 1-99 are the spec's own (SPEC.md, "Error"); runtimes act on them,
// e.g. retry on 11.

/** The CNI spec's error codes this plugin uses (1-99 are the spec's, 100+ ours). */
export const CNI_CODE = {
  /** The configuration's cniVersion is one this plugin does not speak. */
  INCOMPATIBLE_VERSION: 1,
  /** CHECK of a container this plugin never added (or already deleted). */
  UNKNOWN_CONTAINER: 3,
  /** A CNI_* environment variable is missing or invalid. */
  INVALID_ENV: 4,
  /** Reading or writing the plugin's own files failed. */
  IO_FAILURE: 5,
  /** The configuration on stdin is not JSON. */
  DECODING_FAILURE: 6,
  /** The configuration is JSON but its values are wrong. */
  INVALID_CONFIG: 7,
  /** Not ready yet (subnet.env missing): the runtime should retry. */
  TRY_AGAIN_LATER: 11,
  /** Ours (100+ are plugin-specific): the delegate could not be run. */
  DELEGATE_FAILED: 100,
} as const;

/** A CNI failure with the spec's `code`; the plugin prints it with {@link CniError.toJSON} and exits 1. */
export class CniError extends Error {
  /** `code`: the spec's (1-99) or ours (100+); `details`: more for a person, optional. */
  constructor(readonly code: number, msg: string, readonly details = '') {
    super(msg);
    this.name = 'CniError';
  }

  /** The spec's error object, for the runtime. */
  toJSON(cniVersion: string): { cniVersion: string; code: number; msg: string; details?: string } {
    return { cniVersion, code: this.code, msg: this.message, ...(this.details ? { details: this.details } : {}) };
  }
}
