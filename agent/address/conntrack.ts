// The connection-tracking entries of a service address's TCP flows. Published ports reach the
// container through DNAT; a restored socket whose flow the destination's kernel does not know
// would be masqueraded as a new flow and answered with a reset. So the entries are read on the
// source at the freeze and recreated on the destination before the restore.
import { execa } from 'execa';
import { FerryError } from '../../common/errors.ts';

export interface Flow {
  client: string;
  clientPort: number;
  /** The service address and the published port the client talks to. */
  address: string;
  port: number;
  /** Where the DNAT sends it: the container's address and port. */
  containerIp: string;
  containerPort: number;
}

/** Parses `conntrack -L -p tcp` lines for established flows to `address`. */
export function parseFlows(text: string, address: string): Flow[] {
  const flows: Flow[] = [];
  for (const line of text.split('\n')) {
    if (!/\bESTABLISHED\b/.test(line)) continue;
    const pairs = [...line.matchAll(/\b(src|dst|sport|dport)=(\S+)/g)].map((m) => [m[1], m[2]] as const);
    const original = Object.fromEntries(pairs.slice(0, 4));
    const reply = Object.fromEntries(pairs.slice(4, 8));
    if (original.dst !== address || !original.src || !reply.src) continue;
    flows.push({
      client: original.src,
      clientPort: Number(original.sport),
      address,
      port: Number(original.dport),
      containerIp: reply.src,
      containerPort: Number(reply.sport),
    });
  }
  return flows;
}

/** The established TCP flows to `address` on this host. */
export async function flowsTo(address: string): Promise<Flow[]> {
  const r = await execa('conntrack', ['-L', '-p', 'tcp', '-d', address], { reject: false, timeout: 10_000 });
  if (r.failed && !String(r.stdout).trim()) throw new FerryError('INTERNAL', `conntrack -L -d ${address}: ${String(r.stderr)}`);
  return parseFlows(String(r.stdout), address);
}

const tuple = (flow: Flow) => ['-p', 'tcp', '-s', flow.client, '-d', flow.address, '--sport', String(flow.clientPort), '--dport', String(flow.port)];

/**
 * Recreates `flow` here, established and assured, with its DNAT. An entry of the same flow left
 * from when the container last ran here is replaced.
 */
export async function insertFlow(flow: Flow): Promise<void> {
  const args = ['-I', ...tuple(flow), '--dst-nat', `${flow.containerIp}:${flow.containerPort}`, '--state', 'ESTABLISHED', '-u', 'SEEN_REPLY,ASSURED', '-t', '3600'];
  let r = await execa('conntrack', args, { reject: false, timeout: 10_000 });
  if (r.failed && /exists/i.test(String(r.stderr))) {
    await deleteFlow(flow);
    r = await execa('conntrack', args, { reject: false, timeout: 10_000 });
  }
  if (r.failed) throw new FerryError('INTERNAL', `conntrack -I for ${flow.client}:${flow.clientPort}: ${String(r.stderr)}`);
}

/**
 * Forgets every TCP flow to these host ports here: once the container has left, a client still
 * talking to this host's own address then gets a reset at its next packet, instead of packets
 * sent after a container that is gone (a hang until its timeout).
 */
export async function forgetFlowsToPorts(ports: ReadonlyArray<{ hostPort: number; protocol: string }>): Promise<void> {
  for (const port of ports.filter((p) => p.protocol === 'tcp')) {
    await execa('conntrack', ['-D', '-p', 'tcp', '--orig-port-dst', String(port.hostPort)], { reject: false, timeout: 10_000 });
  }
}

/** Forgets `flow` here (the source, once the flow moved away). */
export async function deleteFlow(flow: Flow): Promise<void> {
  await execa('conntrack', ['-D', ...tuple(flow)], { reject: false, timeout: 10_000 });
}
