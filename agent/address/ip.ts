// A container's service address (label io.ferry.service-address): an IPv4 /32 that its clients
// talk to, held by the host the container runs on, on the interface that carries the host's own
// address, and announced with a gratuitous ARP whenever it lands somewhere.
import { execa } from 'execa';
import { FerryError } from '../../common/errors.ts';


export interface InterfaceAddress {
  iface: string;
  /** The address with its prefix, e.g. 172.31.78.11/24. */
  cidr: string;
}

/** Parses `ip -o -4 addr show`: every IPv4 address with its interface. */
export function parseAddresses(text: string): InterfaceAddress[] {
  const found: InterfaceAddress[] = [];
  for (const line of text.split('\n')) {
    const match = /^\d+:\s+(\S+)\s+inet\s+(\d+\.\d+\.\d+\.\d+\/\d+)/.exec(line);
    if (match?.[1] && match[2]) found.push({ iface: match[1].replace(/@.*$/, ''), cidr: match[2] });
  }
  return found;
}

async function addresses(): Promise<InterfaceAddress[]> {
  return parseAddresses((await execa('ip', ['-o', '-4', 'addr', 'show'], { timeout: 10_000 })).stdout);
}

const ipOf = (a: InterfaceAddress) => a.cidr.split('/')[0] ?? '';

function interfaceOf(all: InterfaceAddress[], hostIp: string): InterfaceAddress {
  const own = all.find((a) => ipOf(a) === hostIp);
  if (!own) throw new FerryError('PREFLIGHT_FAILED', `no interface of this host carries ${hostIp}, the agent's address`);
  return own;
}

/** The interface that carries the host's own address (the agent's), and that address's subnet. */
export async function hostInterface(hostIp: string): Promise<InterfaceAddress> {
  return interfaceOf(await addresses(), hostIp);
}

/** Whether this host holds `address` on any interface. */
export async function holds(address: string): Promise<boolean> {
  return (await addresses()).some((a) => ipOf(a) === address);
}

/** hostInterface and every IPv4 address the host holds, from one look at its interfaces. */
export async function addressState(hostIp: string): Promise<{ iface: string; held: Set<string> }> {
  const all = await addresses();
  return { iface: interfaceOf(all, hostIp).iface, held: new Set(all.map(ipOf)) };
}

/** Puts `address` on `iface` as a /32 (nothing if it is there) and announces it. */
export async function take(address: string, iface: string): Promise<void> {
  if (!(await holds(address))) {
    const r = await execa('ip', ['addr', 'add', `${address}/32`, 'dev', iface], { reject: false, timeout: 10_000 });
    if (r.failed && !/File exists/.test(String(r.stderr))) throw new FerryError('INTERNAL', `ip addr add ${address}/32 dev ${iface}: ${String(r.stderr)}`);
  }
  await announce(address, iface);
}

/** A gratuitous ARP: neighbours that knew the address under another MAC learn this host's. */
export async function announce(address: string, iface: string): Promise<void> {
  // An unsolicited ARP gets no answer: arping's exit status says nothing here.
  // -w: do not wait the default second for the answer that never comes.
  await execa('arping', ['-q', '-U', '-c', '1', '-w', '0.05', '-i', iface, '-S', address, address], { reject: false, timeout: 10_000 });
}

/** Takes `address` off this host (nothing if it is not here). */
export async function release(address: string, iface: string): Promise<void> {
  if (!(await holds(address))) return;
  const r = await execa('ip', ['addr', 'del', `${address}/32`, 'dev', iface], { reject: false, timeout: 10_000 });
  if (r.failed && !/Cannot assign|not found/i.test(String(r.stderr))) throw new FerryError('INTERNAL', `ip addr del ${address}/32 dev ${iface}: ${String(r.stderr)}`);
}

/** The MACs that answer an ARP request for `ip` on `iface` (none: nobody holds it there). */
export async function answering(ip: string, iface: string): Promise<string[]> {
  const r = await execa('arping', ['-r', '-c', '2', '-w', '1', '-i', iface, ip], { reject: false, timeout: 10_000 });
  return [...new Set(String(r.stdout).split('\n').map((l) => l.trim().toLowerCase()).filter((l) => /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(l)))];
}
