// Which hosts exist and how to reach their agents. A host is a name in the inventory file, or
// an agent address given directly as HOST:PORT.
import { existsSync, readFileSync } from 'node:fs';
import type { ReachableAgent } from '../common/dial.ts';
import { FerryError } from '../common/errors.ts';
import type { SshRoute } from '../common/ssh/tunnels.ts';
import { AGENT_ADDRESS, describeProblems, INVENTORY_SCHEMA } from './inventory-schema.ts';

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

const ADDRESS = AGENT_ADDRESS;

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
  const parsed = INVENTORY_SCHEMA.safeParse(raw);
  if (!parsed.success) {
    const problems = describeProblems(parsed.error);
    throw new FerryError('INVENTORY_INVALID', `${where}: ${problems[0] ?? 'not an inventory'}`, {
      details: problems,
      hint: 'packaging/inventory.schema.json describes the file (an editor that reads JSON Schema checks it as you type).',
    });
  }
  const file = parsed.data;
  const hosts = new Map<string, HostEntry>();
  for (const [name, entry] of Object.entries(file.hosts)) {
    hosts.set(name, { name, address: entry.address, agent: entry.agent, ...(entry.ssh ? { ssh: { ...entry.ssh, identity: entry.ssh.identity } } : {}) });
  }
  return { path, hosts, tls: file.tls, knownHosts: file.knownHosts };
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
