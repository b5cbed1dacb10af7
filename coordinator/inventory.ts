// Which hosts exist and how to reach their agents. A host is a name in the inventory file, or
// an agent address given directly as HOST:PORT.
import { existsSync, readFileSync } from 'node:fs';
import type { ReachableAgent } from '../common/dial.ts';
import { FerryError } from '../common/errors.ts';
import type { SshRoute } from '../common/ssh/tunnels.ts';

export interface HostEntry extends ReachableAgent {
  name: string;
  /** The host's own address: where published container ports are reached. */
  address: string;
  /** The agent's gRPC address, host:port; behind SSH, as the host itself reaches it (e.g. 127.0.0.1:7070). */
  agent: string;
  /** Reach the agent through an SSH tunnel to this login (the coordinator always does then). */
  ssh?: SshRoute | undefined;
}

export interface Inventory {
  path: string | undefined;
  hosts: Map<string, HostEntry>;
  /** Where the coordinator's certificate is: {"dir": "...", "name": "coordinator"}. */
  tls?: { dir: string; name: string } | undefined;
  /** The known_hosts file SSH host keys are checked against ("knownHosts"; default ~/.ssh/known_hosts). */
  knownHosts?: string | undefined;
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
    const entry = value as { address?: unknown; agent?: unknown; ssh?: unknown } | null;
    if (typeof entry?.address !== 'string' || typeof entry.agent !== 'string' || !ADDRESS.test(entry.agent)) {
      throw new FerryError('INVENTORY_INVALID', `${where}: host "${name}" needs "address" and "agent" ("ADDRESS:PORT")`);
    }
    const ssh = entry.ssh === undefined ? undefined : parseSsh(entry.ssh, `${where}: host "${name}"`);
    hosts.set(name, { name, address: entry.address, agent: entry.agent, ...(ssh ? { ssh } : {}) });
  }
  const knownHosts = (raw as { knownHosts?: unknown }).knownHosts;
  if (knownHosts !== undefined && typeof knownHosts !== 'string') {
    throw new FerryError('INVENTORY_INVALID', `${where}: "knownHosts" must be the path of a known_hosts file`);
  }
  const tls = (raw as { tls?: { dir?: unknown; name?: unknown } }).tls;
  if (tls !== undefined && (typeof tls?.dir !== 'string' || (tls.name !== undefined && typeof tls.name !== 'string'))) {
    throw new FerryError('INVENTORY_INVALID', `${where}: "tls" needs "dir" (and optionally "name", default coordinator)`);
  }
  return {
    path,
    hosts,
    tls: tls ? { dir: tls.dir as string, name: (tls.name as string | undefined) ?? 'coordinator' } : undefined,
    knownHosts,
  };
}

/** "ssh": {"host": ..., "port": 22, "user": "root", "identity": PATH}; port and user may be left out. */
function parseSsh(value: unknown, where: string): SshRoute {
  const ssh = value as { host?: unknown; port?: unknown; user?: unknown; identity?: unknown } | null;
  const port = ssh?.port ?? 22;
  const user = ssh?.user ?? 'root';
  if (
    typeof ssh?.host !== 'string' || !ssh.host ||
    typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535 ||
    typeof user !== 'string' || !user ||
    (ssh.identity !== undefined && typeof ssh.identity !== 'string')
  ) {
    throw new FerryError('INVENTORY_INVALID', `${where}: "ssh" needs "host", and may have "port" (1-65535), "user" and "identity" (a private key file)`);
  }
  return { host: ssh.host, port, user, identity: ssh.identity as string | undefined };
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

/** The same host twice: by name, or by one agent address (which, behind SSH, only the login tells apart). */
export function sameHost(a: HostEntry, b: HostEntry): boolean {
  if (a.name === b.name) return true;
  if (a.ssh || b.ssh) return a.ssh?.host === b.ssh?.host && a.ssh?.port === b.ssh?.port && a.agent === b.agent;
  return a.agent === b.agent;
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
