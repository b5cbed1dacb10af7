// Driving a migration from an e2e test while it runs: the events it prints as they come, and a
// Redis big enough for a checkpoint or a transfer to last long enough for a fault to land in it.
import { execa, type ResultPromise } from 'execa';
import { hostIp, inventoryPath, lab, redisCli, removeEverywhere, ROOT, runningOn, startRedis } from './lab.ts';

/** Fills Redis with `mb` MB of incompressible values plus a counter key to check afterwards. */
export async function fillBig(ip: string, port: number, mb: number): Promise<void> {
  const count = mb * 64;
  // Straight from python into redis-cli: the commands (twice `mb` of hex) never pass through this
  // process, which would hold them as strings and copy them twice.
  const script = `import os, sys\nfor i in range(${count}): sys.stdout.write('SET big:%d %s\\r\\n' % (i, os.urandom(8192).hex()))`;
  await execa('sh', ['-c', 'python3 -c "$0" | redis-cli -h "$1" -p "$2" --pipe', script, ip, String(port)]);
  await redisCli(ip, port, ['set', 'marker', 'still-here']);
}

/** Starts `ferry migrate --json`; `seen` resolves once an event of that kind (and matching `when`) was printed. */
export function startMigration(
  name: string,
  from: string,
  to: string,
  inventory: string,
  extra: string[] = [],
): { child: ResultPromise; seen: (event: string, when?: (e: Record<string, any>) => boolean) => Promise<void> } {
  const child = execa(`${ROOT}bin/ferry`, ['migrate', '--from', from, '--to', to, name, '--json', '--inventory', inventory, ...extra], {
    reject: false,
    buffer: true,
  });
  const printedSoFar: Array<Record<string, any>> = [];
  const waiters = new Set<() => void>();
  let partial = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    partial += chunk.toString();
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) if (line.startsWith('{')) printedSoFar.push(JSON.parse(line) as Record<string, any>);
    for (const wake of [...waiters]) wake();
  });
  return {
    child,
    seen: (event, when = () => true) =>
      new Promise<void>((resolve) => {
        const check = () => {
          if (printedSoFar.some((e) => e.event === event && when(e))) {
            waiters.delete(check);
            resolve();
          }
        };
        waiters.add(check);
        check();
      }),
  };
}

/** The --json events a finished migration printed. */
export function printed(r: { stdout?: unknown }): Array<Record<string, any>> {
  return (typeof r.stdout === 'string' ? r.stdout : '').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>);
}

/** Resolves once `check` holds; fails after `timeoutMs`. */
export async function eventually(check: () => Promise<boolean>, timeoutMs: number, everyMs = 250): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** No archive, staging or journal leftovers that are not settled on a host. */
export async function expectSettled(host: string): Promise<void> {
  const state = JSON.parse(String((await execa('cat', [await inventoryPath()])).stdout)).hosts[host].stateDir as string;
  await eventually(async () => {
    const archives = String((await execa('sh', ['-c', `ls ${state}/agent/archives 2>/dev/null || true`])).stdout).trim();
    const open = String((await execa('sh', ['-c', `grep -L '"phase": "\\(done\\|failed\\)"' ${state}/agent/migrations/*.json 2>/dev/null || true`])).stdout).trim();
    // The memory pages that came beside an archive land in podman's storage (docs/pages.md).
    const pages = String((await lab(['exec', host, 'sh', '-c', 'ls -A /var/lib/containers/storage/ferry-pages 2>/dev/null || true'])).stdout).trim();
    return archives === '' && open === '' && pages === '';
  }, 60_000);
}

/** Both agents up, and `name` a Redis holding `mb` MB on hostA only (made afresh unless it is). */
export async function bigRedisOnHostA(name: string, port: number, mb: number): Promise<void> {
  await lab(['agent-start', 'hostA']);
  await lab(['agent-start', 'hostB']);
  if ((await runningOn(name)).join() === 'hostA') return;
  await removeEverywhere(name);
  await startRedis('hostA', name, port);
  await fillBig(await hostIp('hostA'), port, mb);
}

/** After a file of fault tests: both agents up again, and `name` gone from every host. */
export async function tidyUp(name: string): Promise<void> {
  await lab(['agent-start', 'hostA'], { reject: false });
  await lab(['agent-start', 'hostB'], { reject: false });
  await removeEverywhere(name);
}
