// The network configuration a runtime gives tun-driver-cni on stdin, read
// with the spec's error codes. Keys beyond the spec's are flannel's
// plugin's: subnetFile, dataDir and delegate.
import { DEFAULT_SUBNET_FILE } from '../subnet/etcd/subnet-env.js';
import { CNI_CODE, CniError } from './cni-error.js';

/** Spec versions whose configurations we accept (flannel's plugin accepts the same). */
export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0'] as const;
export const DEFAULT_DATA_DIR = '/var/lib/cni/tun-driver';

/** A JSON object. */
export type JsonObject = Record<string, unknown>;

/** The plugin's network configuration, read and defaulted. */
export interface NetConf {
  cniVersion: string;
  name: string;
  type: string;
  subnetFile: string;
  dataDir: string;
  /** Merged over the generated delegate configuration (objects key by key). */
  delegate: JsonObject;
  /** CHECK (and DEL, from 0.4.0): the result ADD returned. */
  prevResult?: JsonObject;
}

/** The spec's form for network names and container IDs (and a safe plugin or file name): letters, digits, '_', '.', '-'; not starting with a separator. */
export const CNI_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The version to answer in: the configuration's, when it has a readable one. */
export function versionOf(stdin: string): string {
  try {
    const v = (JSON.parse(stdin) as JsonObject).cniVersion;
    if (typeof v === 'string' && (SUPPORTED_VERSIONS as readonly string[]).includes(v)) return v;
  } catch {
    // not JSON: answer in the newest version
  }
  return '1.0.0';
}

/**
 * Reads the configuration a runtime gives on stdin, with flannel's defaults.
 * @throws CniError code 6 (not JSON), 1 (unsupported cniVersion), 7 (a value that is wrong).
 */
export function parseNetConf(stdin: string): NetConf {
  let raw: unknown;
  try {
    raw = JSON.parse(stdin);
  } catch (err) {
    throw new CniError(CNI_CODE.DECODING_FAILURE, 'the network configuration on stdin is not JSON', (err as Error).message);
  }
  if (!isObject(raw)) throw new CniError(CNI_CODE.DECODING_FAILURE, 'the network configuration on stdin must be a JSON object');
  const invalid = (msg: string): never => {
    throw new CniError(CNI_CODE.INVALID_CONFIG, msg);
  };
  const { cniVersion, name, type } = raw;
  if (typeof cniVersion !== 'string') invalid('"cniVersion" is missing: give one of ' + SUPPORTED_VERSIONS.join(', '));
  if (!(SUPPORTED_VERSIONS as readonly string[]).includes(cniVersion as string)) {
    throw new CniError(CNI_CODE.INCOMPATIBLE_VERSION, `cniVersion "${String(cniVersion)}" is not supported: use one of ${SUPPORTED_VERSIONS.join(', ')}`);
  }
  if (typeof name !== 'string' || !CNI_NAME.test(name)) invalid('"name" must be a network name: letters, digits, "_", "." and "-", starting with a letter or digit');
  if (typeof type !== 'string' || type === '') invalid('"type" is missing');
  const optionalPath = (key: string, fallback: string): string => {
    const v = raw[key];
    if (v === undefined) return fallback;
    if (typeof v !== 'string' || !v.startsWith('/')) invalid(`"${key}" must be an absolute path`);
    return v as string;
  };
  const delegate = raw.delegate ?? {};
  if (!isObject(delegate)) invalid('"delegate" must be an object (merged over the generated bridge configuration)');
  const d = delegate as JsonObject;
  if (d.type !== undefined && (typeof d.type !== 'string' || d.type === '')) invalid('"delegate.type" must be a plugin name, e.g. "bridge"');
  if (d.mtu !== undefined && !(Number.isInteger(d.mtu) && (d.mtu as number) >= 576)) invalid('"delegate.mtu" must be an integer of at least 576');
  if (raw.prevResult !== undefined && !isObject(raw.prevResult)) invalid('"prevResult" must be an object');
  return {
    cniVersion: cniVersion as string,
    name: name as string,
    type: type as string,
    subnetFile: optionalPath('subnetFile', DEFAULT_SUBNET_FILE),
    dataDir: optionalPath('dataDir', DEFAULT_DATA_DIR),
    delegate: d,
    prevResult: raw.prevResult as JsonObject | undefined,
  };
}
