// Never lose a container: faults injected for real in the middle of a migration. Each test ends
// by checking that the container runs on exactly one host, with its data.
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { containerState, hostIp, inventoryPath, LAB, lab, labEnv, podman, redisCli, removeEverywhere, ROOT, runningOn, startRedis } from './lab.ts';

const NAME = 'e2e-fault';
const PORT = 6383;
const MB = 150; // enough that the transfer takes a moment to interrupt

/** Fills Redis with `mb` MB of incompressible values plus a counter key to check afterwards. */
async function fillBig(ip: string, mb: number): Promise<void> {
  const count = mb * 64;
  const script = `for i in range(${count}): print('SET big:%d %s' % (i, __import__('os').urandom(8192).hex()))`;
  const commands = await execa('python3', ['-c', script], { maxBuffer: 4 * mb * 1024 * 1024 });
  await execa('redis-cli', ['-h', ip, '-p', String(PORT), '--pipe'], { input: String(commands.stdout).replace(/\n/g, '\r\n') + '\r\n' });
  await redisCli(ip, PORT, ['set', 'marker', 'still-here']);
}

/** Starts `ferry migrate --json` and resolves once the named event has been printed. */
function startMigration(from: string, to: string, inventory: string, extra: string[] = []): { child: ResultPromise; seen: (event: string) => Promise<void> } {
  const child = execa(`${ROOT}bin/ferry`, ['migrate', '--from', from, '--to', to, NAME, '--json', '--inventory', inventory, ...extra], {
    reject: false,
    buffer: true,
  });
  const waiting = new Map<string, () => void>();
  const seenEvents = new Set<string>();
  child.stdout?.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) {
      const kind = /"event":"([a-z-]+)"/.exec(line)?.[1];
      if (!kind) continue;
      seenEvents.add(kind);
      waiting.get(kind)?.();
    }
  });
  return {
    child,
    seen: (event) => (seenEvents.has(event) ? Promise.resolve() : new Promise<void>((resolve) => waiting.set(event, resolve))),
  };
}

/** The --json events a finished migration printed. */
function printed(r: { stdout?: unknown }): Array<Record<string, any>> {
  return String(r.stdout ?? '').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>);
}

/** Cuts a lab host off the bridge for a while (its veth in the root namespace goes down). */
async function linkDown(host: string, ms: number): Promise<void> {
  const veth = `${LAB}-v${host.slice(-1).toLowerCase()}`;
  await execa('ip', ['link', 'set', veth, 'down']);
  await new Promise((r) => setTimeout(r, ms));
  await execa('ip', ['link', 'set', veth, 'up']);
}

async function eventually(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The container runs on hostA only, answers, and kept its data. */
async function expectSafeOnA(ipA: string): Promise<void> {
  await eventually(async () => (await runningOn(NAME)).join() === 'hostA', 60_000);
  expect(await containerState('hostB', NAME)).toBeUndefined();
  expect(await redisCli(ipA, PORT, ['get', 'marker'])).toBe('still-here');
  expect(Number(await redisCli(ipA, PORT, ['dbsize']))).toBe(MB * 64 + 1);
}

/** No archive, staging or journal leftovers that are not settled on a host. */
async function expectSettled(host: string): Promise<void> {
  const state = JSON.parse(String((await execa('cat', [await inventoryPath()])).stdout)).hosts[host].stateDir as string;
  await eventually(async () => {
    const archives = String((await execa('sh', ['-c', `ls ${state}/agent/archives 2>/dev/null || true`])).stdout).trim();
    const open = String((await execa('sh', ['-c', `grep -L '"phase": "\\(done\\|failed\\)"' ${state}/agent/migrations/*.json 2>/dev/null || true`])).stdout).trim();
    return archives === '' && open === '';
  }, 60_000);
}

describe('faults in the middle of a migration', () => {
  let ipA: string;
  let inventory: string;

  beforeEach(async () => {
    ipA = await hostIp('hostA');
    inventory = await inventoryPath();
    await lab(['agent-start', 'hostA']);
    await lab(['agent-start', 'hostB']);
    if ((await runningOn(NAME)).join() !== 'hostA') {
      await removeEverywhere(NAME);
      await startRedis('hostA', NAME, PORT);
      await fillBig(ipA, MB);
    }
  });

  afterAll(async () => {
    await lab(['agent-start', 'hostA'], { reject: false });
    await lab(['agent-start', 'hostB'], { reject: false });
    await removeEverywhere(NAME);
  });

  it('the destination agent is killed (SIGKILL) during the transfer and comes back: the transfer resumes', async () => {
    const { child, seen } = startMigration('hostA', 'hostB', inventory);
    await seen('checkpointed');
    await lab(['agent-stop', 'hostB', '--kill']);
    await new Promise((r) => setTimeout(r, 2_000));
    await lab(['agent-start', 'hostB']);
    const r = await child;
    expect(r.exitCode, String(r.stdout)).toBe(0);
    const events = printed(r);
    const retries = events.filter((e) => e.event === 'retrying' && e.stream === 'checkpoint');
    expect(retries.length).toBeGreaterThan(0);
    expect(events.at(-1)).toMatchObject({ event: 'done' });
    expect(await runningOn(NAME)).toEqual(['hostB']);
    expect(await redisCli(await hostIp('hostB'), PORT, ['get', 'marker'])).toBe('still-here');
    expect(Number(await redisCli(await hostIp('hostB'), PORT, ['dbsize']))).toBe(MB * 64 + 1);
    await expectSettled('hostA');
    await expectSettled('hostB');
  });

  it('the destination agent stays down longer than the retry budget: rolled back', async () => {
    const { child, seen } = startMigration('hostA', 'hostB', inventory, ['--transfer-retry-ms', '3000']);
    await seen('checkpointed');
    await lab(['agent-stop', 'hostB', '--kill']);
    const r = await child;
    expect(r.exitCode).toBe(1);
    const failed = printed(r).at(-1);
    expect(failed).toMatchObject({ event: 'failed', rolledBack: true, error: { code: 'TRANSFER_FAILED', phase: 'transfer' } });
    await expectSafeOnA(ipA);
    await lab(['agent-start', 'hostB']);
    await expectSettled('hostB');
  });

  it('the source agent is killed right after the checkpoint, then restarted', async () => {
    const { child, seen } = startMigration('hostA', 'hostB', inventory);
    await seen('checkpointed');
    await lab(['agent-stop', 'hostA', '--kill']);
    expect(await containerState('hostA', NAME)).not.toBe('running'); // frozen: only the agent can bring it back
    await new Promise((r) => setTimeout(r, 2_000));
    await lab(['agent-start', 'hostA']);
    const r = await child;
    expect(r.exitCode).toBe(1);
    await expectSafeOnA(ipA);
    await expectSettled('hostA');
    await expectSettled('hostB');
  });

  it('the coordinator is killed in the middle; the agents settle it on their own', async () => {
    const { child, seen } = startMigration('hostA', 'hostB', inventory);
    await seen('checkpointed');
    child.kill('SIGKILL');
    await child;
    await expectSafeOnA(ipA);
    await expectSettled('hostA');
    await expectSettled('hostB');
  });

  it('Ctrl-C in the coordinator rolls back', async () => {
    const { child, seen } = startMigration('hostA', 'hostB', inventory);
    await seen('checkpointed');
    child.kill('SIGINT');
    const r = await child;
    expect(r.exitCode).toBe(1);
    expect(String(r.stderr)).toContain('interrupted: rolling back');
    const failed = printed(r).at(-1);
    expect(failed).toMatchObject({ event: 'failed', rolledBack: true, error: { code: 'CANCELLED' } });
    await expectSafeOnA(ipA);
    await expectSettled('hostB');
  });

  it('a chunk is corrupted on the way: refused, and the transfer recovers', async () => {
    // hostA's agent damages the 20th data message it sends (see FERRY_FAULT_CORRUPT_CHUNK).
    await execa(`${ROOT}scripts/lab`, ['agent-start', 'hostA'], { env: { ...labEnv, FERRY_FAULT_CORRUPT_CHUNK: '20' } });
    try {
      const r = await startMigration('hostA', 'hostB', inventory).child;
      expect(r.exitCode, String(r.stdout)).toBe(0);
      const events = printed(r);
      const refused = events.find((e) => e.event === 'retrying' && String(e.error).includes('corrupted (CRC-32 mismatch)'));
      expect(refused).toBeDefined();
      expect(events.some((e) => e.event === 'retrying' && Number(e.resumeFrom) > 0)).toBe(true);
      expect(await runningOn(NAME)).toEqual(['hostB']);
      expect(await redisCli(await hostIp('hostB'), PORT, ['get', 'marker'])).toBe('still-here');
      expect(Number(await redisCli(await hostIp('hostB'), PORT, ['dbsize']))).toBe(MB * 64 + 1);
    } finally {
      await lab(['agent-start', 'hostA']);
    }
  });

  it('the link between the hosts goes down for 3 seconds mid-transfer: the transfer carries on', async () => {
    const { child, seen } = startMigration('hostA', 'hostB', inventory);
    await seen('progress');
    await linkDown('hostB', 3_000);
    const r = await child;
    expect(r.exitCode, String(r.stdout)).toBe(0);
    expect(await runningOn(NAME)).toEqual(['hostB']);
    expect(Number(await redisCli(await hostIp('hostB'), PORT, ['dbsize']))).toBe(MB * 64 + 1);
  });

  it('the link stays down longer than the retry budget: rolled back', async () => {
    const { child, seen } = startMigration('hostA', 'hostB', inventory, ['--transfer-retry-ms', '2000']);
    await seen('progress');
    const outage = linkDown('hostB', 25_000);
    const r = await child;
    await outage;
    expect(r.exitCode).toBe(1);
    const failed = printed(r).at(-1);
    expect(failed).toMatchObject({ event: 'failed', rolledBack: true, error: { code: 'TRANSFER_FAILED' } });
    await expectSafeOnA(ipA);
    await expectSettled('hostA');
    await expectSettled('hostB');
  });

  it("the destination's published port is taken just before the restore", async () => {
    const { child, seen } = startMigration('hostA', 'hostB', inventory);
    await seen('checkpointed');
    // Preflight saw the port free; now something takes it while the archive is on its way.
    await podman('hostB', ['run', '-d', '--name', 'e2e-port-thief', '-p', `${PORT}:8080`, 'localhost/ferry-lab/busybox:latest', 'httpd', '-f', '-p', '8080']);
    try {
      const r = await child;
      expect(r.exitCode).toBe(1);
      const failed = printed(r).at(-1);
      expect(failed).toMatchObject({ event: 'failed', rolledBack: true, error: { code: 'RESTORE_FAILED', phase: 'restore', host: 'hostB' } });
      expect(failed?.error.message).toContain(String(PORT));
      await expectSafeOnA(ipA);
      expect(await containerState('hostB', 'e2e-port-thief')).toBe('running'); // the thief was not touched
    } finally {
      await podman('hostB', ['rm', '-f', '-t', '0', 'e2e-port-thief']);
    }
    await expectSettled('hostB');
  });

  it("the destination's disk fills up during the transfer", async () => {
    const state = JSON.parse(String((await execa('cat', [inventory])).stdout)).hosts.hostB.stateDir as string;
    const archives = `${state}/agent/archives`;
    // hostB's archives get a disk of their own, inside hostB's mount namespace, big enough to
    // start; once bytes flow, something else writes until the disk is full.
    await lab(['exec', 'hostB', 'mount', '-t', 'tmpfs', '-o', 'size=400m,mode=0700', 'tmpfs', archives]);
    try {
      const { child, seen } = startMigration('hostA', 'hostB', inventory);
      await seen('progress');
      await lab(['exec', 'hostB', 'sh', '-c', `dd if=/dev/zero of=${archives}/filler bs=1M 2>/dev/null; true`]);
      const r = await child;
      expect(r.exitCode).toBe(1);
      const failed = printed(r).at(-1);
      expect(failed).toMatchObject({ event: 'failed', rolledBack: true, error: { code: 'DISK_FULL', host: 'hostB' } });
      await expectSafeOnA(ipA);
      expect(String((await lab(['exec', 'hostB', 'sh', '-c', `ls -A ${archives}`])).stdout).trim()).toBe('filler');
    } finally {
      await lab(['exec', 'hostB', 'sh', '-c', `rm -f ${archives}/filler; umount ${archives}`]);
    }
  });

  it('after all that, the container still migrates', async () => {
    const { child } = startMigration('hostA', 'hostB', inventory);
    const r = await child;
    expect(r.exitCode, String(r.stdout)).toBe(0);
    expect(await runningOn(NAME)).toEqual(['hostB']);
    expect(await redisCli(await hostIp('hostB'), PORT, ['get', 'marker'])).toBe('still-here');
    await podman('hostB', ['rm', '-f', '-t', '0', NAME]);
  });
});
