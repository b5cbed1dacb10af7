// Which hosts exist and how to reach their agents. A host is a name in the inventory file, or
// an agent address given directly as HOST:PORT.
import { existsSync, readFileSync } from 'node:fs';
import { FerryError } from '../common/errors.ts';

export interface HostEntry {
  name: string;
  /** The host's own address: where published container ports are reached. */
  address: string;
  /** The agent's gRPC address, host:port. */
  agent: string;
}

export interface Inventory {
  path: string | undefined;
  hosts: Map<string, HostEntry>;
  /** Where the coordinator's certificate is: {"dir": "...", "name": "coordinator"}. */
  tls?: { dir: string; name: string } | undefined;
}

/** Where the inventory is looked for when --inventory is not given, in order. */
export const DEFAULT_INVENTORY_PATHS = ['/etc/ferry/inventory.json', '/var/lib/ferry-lab/ferry/inventory.json'];

const ADDRESS = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

export function locateInventory(explicit: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (explicit) return explicit;
  if (env.FERRY_INVENTORY) return env.FERRY_INVENTORY;
  return DEFAULT_INVENTORY_PATHS.find((p) => existsSync(p));
}

export function parseInventory(text: string, path: string | undefined): Inventory {
  const where = path ?? 'inventory';
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new FerryError('INVENTORY_INVALID', `${where} is not valid JSON`, { cause });
  }
  const hosts = new Map<string, HostEntry>();
  const table = (raw as { hosts?: unknown } | null)?.hosts;
  if (!table || typeof table !== 'object' || Array.isArray(table)) {
    throw new FerryError('INVENTORY_INVALID', `${where} has no "hosts" object`);
  }
  for (const [name, value] of Object.entries(table as Record<string, unknown>)) {
    const entry = value as { address?: unknown; agent?: unknown } | null;
    if (typeof entry?.address !== 'string' || typeof entry.agent !== 'string' || !ADDRESS.test(entry.agent)) {
      throw new FerryError('INVENTORY_INVALID', `${where}: host "${name}" needs "address" and "agent" ("ADDRESS:PORT")`);
    }
    hosts.set(name, { name, address: entry.address, agent: entry.agent });
  }
  const tls = (raw as { tls?: { dir?: unknown; name?: unknown } }).tls;
  if (tls !== undefined && (typeof tls?.dir !== 'string' || (tls.name !== undefined && typeof tls.name !== 'string'))) {
    throw new FerryError('INVENTORY_INVALID', `${where}: "tls" needs "dir" (and optionally "name", default coordinator)`);
  }
  return { path, hosts, tls: tls ? { dir: tls.dir as string, name: (tls.name as string | undefined) ?? 'coordinator' } : undefined };
}

export function loadInventory(path: string | undefined): Inventory {
  if (!path) return { path: undefined, hosts: new Map() };
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new FerryError('INVENTORY_INVALID', `cannot read inventory ${path}: ${(cause as Error).message}`, { cause });
  }
  return parseInventory(text, path);
}

/** A host by inventory name, or an agent address HOST:PORT taken as it is. */
export function resolveHost(inventory: Inventory, name: string): HostEntry {
  const known = inventory.hosts.get(name);
  if (known) return known;
  const match = ADDRESS.exec(name);
  if (match?.[1] && Number(match[2]) <= 65535) {
    return { name, address: match[1].replace(/^\[|\]$/g, ''), agent: name };
  }
  const names = [...inventory.hosts.keys()];
  throw new FerryError('UNKNOWN_HOST', `unknown host "${name}"`, {
    hint: names.length
      ? `Known hosts: ${names.join(', ')} (from ${inventory.path}). Or give the agent as ADDRESS:PORT.`
      : 'No inventory was found: pass --inventory FILE (the lab prints its path: scripts/lab inventory) or give the agent as ADDRESS:PORT.',
  });
}
