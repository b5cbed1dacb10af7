// The inventory file's shape, as a zod schema: parseInventory (inventory.ts) checks a file against
// it, and packaging/inventory.schema.json is it as JSON Schema, for editors (written by
// `npm run gen`, checked by test/coordinator/inventory.test.ts). Keys the schema does not name
// are allowed: the lab writes more of each host (its site, subnets, state folder).
import { z } from 'zod';

/** An agent's gRPC address: host or [IPv6] and a port. */
export const AGENT_ADDRESS = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

const ssh = z
  .object({
    host: z.string().min(1).describe('where sshd listens for this host'),
    port: z.number().int().min(1).max(65535).default(22),
    user: z.string().min(1).default('root'),
    identity: z.string().optional().describe("a private key file; without it the agent's or user's own"),
  })
  .describe("reach the agent through an SSH tunnel to this login (the agent's port is closed to the outside)");

const host = z.looseObject({
  address: z.string().min(1).describe("the host's own address, where its containers' published ports answer"),
  agent: z
    .string()
    .regex(AGENT_ADDRESS, { error: 'must be the agent address ADDRESS:PORT (e.g. 10.0.0.5:7070)' })
    .refine((a) => Number(AGENT_ADDRESS.exec(a)?.[2]) <= 65535, { error: 'has a port above 65535' })
    .describe("the agent's gRPC address, ADDRESS:PORT; behind SSH, as the host itself reaches it (127.0.0.1:7070)"),
  ssh: ssh.optional(),
});

export const INVENTORY_SCHEMA = z
  .looseObject({
    hosts: z.record(z.string().min(1), host).describe('each host by its name, as ferry commands name it'),
    tls: z
      .object({
        dir: z.string().describe('the folder of ca.pem and the coordinator certificate'),
        name: z.string().default('coordinator').describe('its files: NAME.pem and NAME.key'),
      })
      .optional()
      .describe("where the coordinator's certificate is"),
    knownHosts: z.string().optional().describe('the known_hosts file SSH host keys are checked against (default ~/.ssh/known_hosts)'),
  })
  .describe('A Ferry inventory: the hosts whose agents the ferry commands reach (README: Inventory).');

export type InventoryFile = z.output<typeof INVENTORY_SCHEMA>;

/** Each problem with the field it is on: `hosts.hostB.agent: must be ...`. */
export function describeProblems(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const at = issue.path.map(String).join('.');
    return at ? `${at}: ${issue.message}` : issue.message;
  });
}

/** The JSON Schema of an inventory file, as editors read it. */
export function inventoryJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(INVENTORY_SCHEMA, { io: 'input' }) as Record<string, unknown>;
}
