// The migration options of the command line, checked and resolved once into what migrate() takes.
import { FerryError } from '../common/errors.ts';
import { COMPRESSION, COMPRESSIONS } from '../common/wire.ts';
import { resolveHost, sameHost, type HostEntry, type Inventory } from './inventory.ts';
import { usage } from './output.ts';

export interface Values {
  from?: string | undefined;
  to?: string | undefined;
  compress: string;
  'verify-timeout': string;
  'replace-data': boolean;
  'ignore-bind-mounts': boolean;
  'no-presync': boolean;
  'dry-run': boolean;
  'new-address'?: boolean | undefined;
  'transfer-retry-ms': string;
  bwlimit?: string | undefined;
  /** cordon: why, said by ferry hosts and by refusals. */
  reason?: string | undefined;
  /** migrate: to a cordoned destination too. */
  force?: boolean | undefined;
  /** history: at most this many migrations. */
  limit?: string | undefined;
  /** evacuate: how many containers move at once. */
  parallel?: string | undefined;
}

const BYTE_UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };
/** Link speeds are said in bits, decimal: 100mbit is 100,000,000 bits per second. */
const BIT_UNITS: Record<string, number> = { K: 1e3 / 8, M: 1e6 / 8, G: 1e9 / 8 };

/** "100M" (MiB/s) -> 104857600, "20mbit" -> 2500000 bytes per second; undefined: no cap. */
export function parseRate(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const bits = /^(\d+(?:\.\d+)?)([KMG])bit(?:\/s)?$/i.exec(text.trim());
  const bytes = bits ? undefined : /^(\d+(?:\.\d+)?)([KMG]?)(?:i?B)?(?:\/s)?$/i.exec(text.trim());
  const match = bits ?? bytes;
  const unit = (bits ? BIT_UNITS : BYTE_UNITS)[(match?.[2] ?? '').toUpperCase()];
  const rate = match && unit ? Math.floor(Number(match[1]) * unit) : NaN;
  if (!Number.isSafeInteger(rate) || rate < 64 * 1024) {
    usage(`--bwlimit must be a rate of at least 64K: bytes per second with K, M or G (e.g. 100M), or bits per second as kbit, mbit, gbit (e.g. 20mbit); not "${text}"`);
  }
  return rate;
}

export function endpoints(inventory: Inventory, values: Values): { from: HostEntry; to: HostEntry[] } {
  if (!values.from) usage('--from HOST is required');
  if (!values.to) usage('--to HOST is required');
  const from = resolveHost(inventory, values.from);
  const to = values.to.split(',').filter(Boolean).map((name) => resolveHost(inventory, name));
  for (const host of to) {
    if (sameHost(host, from)) {
      throw new FerryError('SAME_HOST', `--from and --to are both ${from.name}`, { phase: 'preflight' });
    }
  }
  return { from, to };
}

export function migrationSettings(values: Values) {
  const compress = values.compress;
  if (!COMPRESSION.has(compress)) usage(`--compress must be one of ${COMPRESSIONS.join(', ')}, not "${compress}"`);
  const verifyTimeoutMs = Number(values['verify-timeout']);
  if (!Number.isInteger(verifyTimeoutMs) || verifyTimeoutMs <= 0) usage('--verify-timeout must be a positive number of milliseconds');
  const transferRetryMs = Number(values['transfer-retry-ms']);
  if (!Number.isInteger(transferRetryMs) || transferRetryMs < 0) usage('--transfer-retry-ms must be a whole number of milliseconds');
  return {
    compress,
    transferRetryMs,
    verifyTimeoutMs,
    replaceData: values['replace-data'],
    ignoreBindMounts: values['ignore-bind-mounts'],
    noPresync: values['no-presync'],
    dryRun: values['dry-run'],
    newAddress: values['new-address'] ?? false,
    force: values.force ?? false,
    bwlimitBytesPerSec: parseRate(values.bwlimit),
  };
}
