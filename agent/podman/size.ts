// How much a migration of a container will move, roughly, for the destination's disk check:
// the memory its cgroup holds (CRIU dumps what is resident) plus its bind-mounted data.
import { readFile } from 'node:fs/promises';
import { scan } from '../data/scan.ts';

/** Memory charged to the container's cgroup (v1 or v2); 0 when it cannot be read. */
export async function cgroupMemoryBytes(cgroupPath: string, root = '/sys/fs/cgroup'): Promise<number> {
  if (!cgroupPath) return 0;
  for (const file of [`${root}/memory${cgroupPath}/memory.usage_in_bytes`, `${root}${cgroupPath}/memory.current`, `${root}/unified${cgroupPath}/memory.current`]) {
    const text = await readFile(file, 'utf8').catch(() => undefined);
    if (text !== undefined && /^\d+\s*$/.test(text)) return Number(text);
  }
  return 0;
}

/** Bytes of file content under the paths. */
export async function dataBytes(paths: readonly string[]): Promise<number> {
  if (!paths.length) return 0;
  let total = 0;
  for (const entry of (await scan(paths)).values()) if (entry.type === 'file') total += entry.size;
  return total;
}
