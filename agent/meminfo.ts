// How much memory this host can still give containers: MemAvailable of /proc/meminfo (free
// memory plus what the kernel can reclaim without swapping), which the coordinator weighs when it
// places containers (ferry evacuate).
import { readFile } from 'node:fs/promises';

/** MemAvailable in bytes from the text of /proc/meminfo; 0 when it says nothing of it. */
export function parseMemAvailable(meminfo: string): number {
  const kib = /^MemAvailable:\s+(\d+)\s*kB$/m.exec(meminfo)?.[1];
  return kib ? Number(kib) * 1024 : 0;
}

/** This host's available memory in bytes; 0 when /proc/meminfo cannot be read. */
export async function memAvailableBytes(path = '/proc/meminfo'): Promise<number> {
  return parseMemAvailable(await readFile(path, 'utf8').catch(() => ''));
}
