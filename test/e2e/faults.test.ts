// Never lose a container: faults injected for real in the middle of a migration. Each test ends
// by checking that the container runs on exactly one host, with its data. The data plane moves
// the archive at link speed, so the tests that strike during the transfer cap its rate
// (--bwlimit): the fault then lands in a transfer that lasts seconds, not milliseconds.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { Transform } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { bigRedisOnHostA, eventually, expectSettled, fillBig, printed, startMigration as start, tidyUp } from './drive.ts';
import { containerState, hostIp, inventoryPath, LAB, LAB_SUBNET, lab, podman, REDIS_IMAGE, redisCli, removeEverywhere, runningOn } from './lab.ts';

const NAME = 'e2e-fault';
const PORT = 6383;
const MB = 150; // an archive of about 200 MB
/** At this rate the archive takes about five seconds: time for a fault to land mid-transfer. */
const SLOW = ['--bwlimit', '40M', '--compress', 'none']; // uncompressed: the archive streams and podman imports it as it arrives

/** This file's container, moved with `ferry migrate --json`. */
const startMigration = (from: string, to: string, inventory: string, extra: string[] = []) => start(NAME, from, to, inventory, extra);

/** The archive is on its way: the destination has acknowledged this much of it. */
const midTransfer = (e: Record<string, any>) => Number(e.bytes) >= 16 * 1024 * 1024;

/**
 * A TCP relay on the lab bridge in front of hostB's agent (gRPC) and data port, that flips one
 * byte of the data stream once `after` bytes went through. Test-only: production code carries
 * no fault hooks. The inventory it returns sends everything for hostB through it.
 */
async function corruptingRelay(after: number): Promise<{ inventory: string; corrupted: () => boolean; close: () => void }> {
  const relayHost = `${LAB_SUBNET}.1`;
  const hostB = `${LAB_SUBNET}.12`;
  let flipped = false;
  const servers: Server[] = [];
  const relay = (listenPort: number, targetPort: number, corrupt: boolean) =>
    new Promise<void>((resolve, reject) => {
      // Half-open both ways: the sender ends its side after END and reads the reply that follows.
      const server = createServer({ allowHalfOpen: true }, (inbound) => {
        const outbound = connect({ host: hostB, port: targetPort, allowHalfOpen: true });
        let passed = 0;
        const flip = new Transform({
          transform(chunk: Buffer, _encoding, callback) {
            if (corrupt && !flipped && passed + chunk.length > after) {
              chunk = Buffer.from(chunk);
              const at = Math.max(0, after - passed);
              chunk[at] = (chunk[at] ?? 0) ^ 0xff;
              flipped = true;
            }
            passed += chunk.length;
            callback(null, chunk);
          },
        });
        // pipe(), not pipeline(): an end in one direction must leave the other one open.
        inbound.pipe(flip).pipe(outbound);
        outbound.pipe(inbound);
        const cut = () => {
          inbound.destroy();
          outbound.destroy();
        };
        inbound.on('error', cut);
        outbound.on('error', cut);
        inbound.on('close', cut);
        outbound.on('close', cut);
      });
      server.once('error', reject);
      server.listen(listenPort, relayHost, () => resolve());
      servers.push(server);
    });
  await relay(17070, 7070, false);
  await relay(7071, 7071, true); // the data port a grant names is hostB's own
  const inventory = JSON.parse(readFileSync(await inventoryPath(), 'utf8')) as { hosts: Record<string, { agent: string }> };
  (inventory.hosts.hostB as { agent: string }).agent = `${relayHost}:17070`;
  const path = join(tmpdir(), `ferry-relay-inventory-${process.pid}.json`);
  writeFileSync(path, JSON.stringify(inventory));
  return {
    inventory: path,
    corrupted: () => flipped,
    close: () => {
      servers.forEach((s) => s.close());
      rmSync(path, { force: true });
    },
  };
}

/** Cuts a lab host off the bridge for a while (its veth in the root namespace goes down). */
async function linkDown(host: string, ms: number): Promise<void> {
  const veth = `${LAB}-v${host.slice(-1).toLowerCase()}`;
  await execa('ip', ['link', 'set', veth, 'down']);
  await new Promise((r) => setTimeout(r, ms));
  await execa('ip', ['link', 'set', veth, 'up']);
}

/**
 * The container runs on hostA only, answers, and kept its data. hostB holds no copy; while its
 * agent is down it may still hold podman's half-made import, never run, which the agent removes
 * once it is back.
 */
async function expectSafeOnA(ipA: string, options: { hostBAgentDown?: boolean } = {}): Promise<void> {
  await eventually(async () => (await runningOn(NAME)).join() === 'hostA', 60_000);
  if (options.hostBAgentDown) expect(await containerState('hostB', NAME)).not.toBe('running');
  else await eventually(async () => (await containerState('hostB', NAME)) === undefined, 30_000);
  expect(await redisCli(ipA, PORT, ['get', 'marker'])).toBe('still-here');
  expect(Number(await redisCli(ipA, PORT, ['dbsize']))).toBe(MB * 64 + 1);
}

describe('faults in the middle of a migration', () => {
  let ipA: string;
  let inventory: string;

  beforeEach(async () => {
    ipA = await hostIp('hostA');
    inventory = await inventoryPath();
    await bigRedisOnHostA(NAME, PORT, MB);
  });

  afterAll(() => tidyUp(NAME));

  it('the destination agent is killed (SIGKILL) during the transfer and comes back: the transfer resumes', async () => {
    const { child, seen } = startMigration('hostA', 'hostB', inventory, SLOW);
    await seen('progress', midTransfer);
    await lab(['agent-stop', 'hostB', '--kill']); // podman's import, fed as the bytes arrived, dies with it
    await new Promise((r) => setTimeout(r, 2_000));
    await lab(['agent-start', 'hostB']);
    const r = await child;
    expect(r.exitCode, String(r.stdout)).toBe(0);
    const events = printed(r);
    // The memory travels on the pages stream, beside the archive (docs/pages.md): that is the one cut off.
    const retries = events.filter((e) => e.event === 'retrying' && ['checkpoint', 'pages'].includes(String(e.stream)));
    expect(retries.length).toBeGreaterThan(0);
    // It went on from what hostB had kept on disk, not from the start. (hostB acknowledges bytes
    // once checked, and writes them in batches: its file may trail the 16 MiB acknowledged.)
    expect(retries.some((e) => Number(e.resumeFrom) >= 8 * 1024 * 1024)).toBe(true);
    expect(events.at(-1)).toMatchObject({ event: 'done' });
    expect(await runningOn(NAME)).toEqual(['hostB']);
    expect(await redisCli(await hostIp('hostB'), PORT, ['get', 'marker'])).toBe('still-here');
    expect(Number(await redisCli(await hostIp('hostB'), PORT, ['dbsize']))).toBe(MB * 64 + 1);
    await expectSettled('hostA');
    await expectSettled('hostB');
  });

  it('the destination agent stays down longer than the retry budget: rolled back', async () => {
    const { child, seen } = startMigration('hostA', 'hostB', inventory, ['--transfer-retry-ms', '3000', ...SLOW]);
    await seen('progress', midTransfer);
    await lab(['agent-stop', 'hostB', '--kill']);
    const r = await child;
    expect(r.exitCode).toBe(1);
    const failed = printed(r).at(-1);
    expect(failed).toMatchObject({ event: 'failed', rolledBack: true, error: { code: 'TRANSFER_FAILED', phase: 'transfer' } });
    await expectSafeOnA(ipA, { hostBAgentDown: true });
    await lab(['agent-start', 'hostB']);
    await eventually(async () => (await containerState('hostB', NAME)) === undefined, 30_000);
    await expectSettled('hostB');
  });

  it('the source agent is killed right after the checkpoint, then restarted', async () => {
    const { child, seen } = startMigration('hostA', 'hostB', inventory, SLOW);
    await seen('checkpointed'); // podman is done; the archive is still on its way
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
    const { child, seen } = startMigration('hostA', 'hostB', inventory, SLOW);
    await seen('checkpointed');
    child.kill('SIGKILL');
    await child;
    await expectSafeOnA(ipA);
    await expectSettled('hostA');
    await expectSettled('hostB');
  });

  it("the coordinator is killed while the destination's ports do not answer: the agents roll back instead of committing an unverified move", async () => {
    const deaf = 'e2e-unverified';
    const port = 6388;
    // Restored on hostB, its post-restore hook moves Redis off the published port: the check the
    // coordinator was making would have failed.
    const hook = 'redis-cli config set port 6390 >/dev/null';
    await podman('hostA', ['run', '-d', '--name', deaf, '-p', `${port}:6379`, '--label', `io.ferry.hook.post-restore=${hook}`, REDIS_IMAGE, 'redis-server', '--save', '', '--protected-mode', 'no']);
    try {
      await eventually(async () => (await redisCli(ipA, port, ['set', 'marker', 'still-here']).catch(() => '')) === 'OK', 10_000);
      const { child, seen } = start(deaf, 'hostA', 'hostB', inventory, ['--verify-timeout', '60000']);
      await seen('phase', (e) => e.phase === 'verify');
      child.kill('SIGKILL');
      await child;
      await eventually(async () => (await runningOn(deaf)).join() === 'hostA' && (await redisCli(ipA, port, ['get', 'marker']).catch(() => '')) === 'still-here', 60_000);
      await eventually(async () => (await containerState('hostB', deaf)) === undefined, 30_000);
      await expectSettled('hostA');
      await expectSettled('hostB');
    } finally {
      await removeEverywhere(deaf);
    }
  });

  it('Ctrl-C in the coordinator rolls back', async () => {
    const { child, seen } = startMigration('hostA', 'hostB', inventory, SLOW);
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

  it('Ctrl-C after the checkpoint of a container run with --rm (podman removed it): back on hostA from the archive hostA kept', async () => {
    const gone = 'e2e-rm';
    const port = 6389;
    await removeEverywhere(gone);
    await podman('hostA', ['run', '-d', '--rm', '--name', gone, '-p', `${port}:6379`, REDIS_IMAGE, 'redis-server', '--save', '', '--protected-mode', 'no']);
    try {
      await eventually(async () => (await redisCli(ipA, port, ['ping']).catch(() => '')) === 'PONG', 10_000);
      await fillBig(ipA, port, 40);
      const { child, seen } = start(gone, 'hostA', 'hostB', inventory, ['--bwlimit', '20M', '--compress', 'none']);
      await seen('checkpointed'); // podman is done: it removes a --rm container, checkpoint and all
      child.kill('SIGINT');
      const r = await child;
      expect(r.exitCode).toBe(1);
      const events = printed(r);
      expect(events.at(-1)).toMatchObject({ event: 'failed', rolledBack: true, error: { code: 'CANCELLED' } });
      expect(String(events.find((e) => e.event === 'rollback' && e.host === 'hostA')?.outcome)).toContain('from the archive it kept');
      expect(await runningOn(gone)).toEqual(['hostA']);
      expect(await redisCli(ipA, port, ['get', 'marker'])).toBe('still-here');
      expect(Number(await redisCli(ipA, port, ['dbsize']))).toBe(40 * 64 + 1);
      await expectSettled('hostA');
      await expectSettled('hostB');
    } finally {
      await removeEverywhere(gone);
    }
  });

  it('bytes are corrupted on the way: refused, and the transfer resumes from the last good byte', async () => {
    // One byte of the TLS stream flipped after 32 MiB: hostB's TLS refuses the record, the
    // stream breaks, and the source goes on from what hostB had checked and kept.
    const relay = await corruptingRelay(32 * 1024 * 1024);
    try {
      const r = await startMigration('hostA', 'hostB', relay.inventory).child;
      expect(r.exitCode, String(r.stdout)).toBe(0);
      expect(relay.corrupted()).toBe(true);
      const events = printed(r);
      expect(events.some((e) => e.event === 'retrying' && ['checkpoint', 'pages'].includes(String(e.stream)) && Number(e.resumeFrom) > 0)).toBe(true);
      expect(await runningOn(NAME)).toEqual(['hostB']);
      expect(await redisCli(await hostIp('hostB'), PORT, ['get', 'marker'])).toBe('still-here');
      expect(Number(await redisCli(await hostIp('hostB'), PORT, ['dbsize']))).toBe(MB * 64 + 1);
    } finally {
      relay.close();
    }
  });

  it('the link between the hosts goes down for 3 seconds mid-transfer: the transfer carries on', async () => {
    const { child, seen } = startMigration('hostA', 'hostB', inventory, SLOW);
    await seen('progress', midTransfer);
    await linkDown('hostB', 3_000);
    const r = await child;
    expect(r.exitCode, String(r.stdout)).toBe(0);
    expect(await runningOn(NAME)).toEqual(['hostB']);
    expect(Number(await redisCli(await hostIp('hostB'), PORT, ['dbsize']))).toBe(MB * 64 + 1);
  });

  it('the link stays down longer than the retry budget: rolled back', async () => {
    const { child, seen } = startMigration('hostA', 'hostB', inventory, ['--transfer-retry-ms', '2000', ...SLOW]);
    await seen('progress', midTransfer);
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
    const { child, seen } = startMigration('hostA', 'hostB', inventory, SLOW);
    await seen('checkpointed');
    // Preflight saw the port free; now something takes it while the archive is on its way.
    await podman('hostB', ['run', '-d', '--name', 'e2e-port-thief', '-p', `${PORT}:8080`, 'localhost/ferry-lab/busybox:latest', 'httpd', '-f', '-p', '8080']);
    try {
      const r = await child;
      expect(r.exitCode).toBe(1);
      const failed = printed(r).at(-1);
      expect(failed).toMatchObject({ event: 'failed', rolledBack: true, error: { code: 'RESTORE_FAILED', phase: 'restore', host: 'hostB' } });
      // podman says which it met first: the port, or the container's IP, which the thief may have drawn from the pool.
      expect(String(failed?.error.message)).toMatch(new RegExp(`${PORT}|already allocated`));
      await expectSafeOnA(ipA);
      expect(await containerState('hostB', 'e2e-port-thief')).toBe('running'); // the thief was not touched
    } finally {
      await podman('hostB', ['rm', '-f', '-t', '0', 'e2e-port-thief']);
    }
    await expectSettled('hostB');
  });

  it("the destination's disk fills up during the transfer", async () => {
    // The memory lands beside podman's storage (docs/pages.md): that place gets a disk of its own,
    // inside hostB's mount namespace, big enough to start; once bytes flow, something else writes
    // until the disk is full.
    const pages = '/var/lib/containers/storage/ferry-pages';
    await lab(['exec', 'hostB', 'sh', '-c', `mkdir -p ${pages} && mount -t tmpfs -o size=400m,mode=0700 tmpfs ${pages}`]);
    try {
      const { child, seen } = startMigration('hostA', 'hostB', inventory, SLOW);
      await seen('progress', midTransfer);
      await lab(['exec', 'hostB', 'sh', '-c', `dd if=/dev/zero of=${pages}/filler bs=1M 2>/dev/null; true`]);
      const r = await child;
      expect(r.exitCode).toBe(1);
      const failed = printed(r).at(-1);
      expect(failed).toMatchObject({ event: 'failed', rolledBack: true, error: { code: 'DISK_FULL', host: 'hostB' } });
      await expectSafeOnA(ipA);
      expect(String((await lab(['exec', 'hostB', 'sh', '-c', `ls -A ${pages}`])).stdout).trim()).toBe('filler');
    } finally {
      await lab(['exec', 'hostB', 'sh', '-c', `rm -f ${pages}/filler; umount ${pages}`]);
    }
  });

  it("the memory goes beside podman's archive and is linked into place, not copied: every key is there", async () => {
    const r = await startMigration('hostA', 'hostB', inventory, SLOW).child;
    expect(r.exitCode, String(r.stdout)).toBe(0);
    const summary = printed(r).find((e) => e.event === 'done')?.summary as { migrationId: string; pagesBytes: number; archiveBytes: number; streamedRestore: boolean };
    expect(summary.streamedRestore).toBe(true);
    // Of what podman wrote, nearly all is memory, and none of it was in podman's own tar.
    expect(summary.pagesBytes).toBeGreaterThan(summary.archiveBytes * 0.9);
    // hostB's agent says how it put them into the archive podman extracted: linked, not copied.
    const state = JSON.parse(readFileSync(inventory, 'utf8')).hosts.hostB.stateDir as string;
    const put = readFileSync(`${state}/agent.log`, 'utf8')
      .split('\n')
      .filter((line) => line.includes(summary.migrationId) && line.includes('put the pages'))
      .map((line) => JSON.parse(line) as { copied: number; linked: number });
    expect(put).toEqual([expect.objectContaining({ copied: 0, linked: summary.pagesBytes })]);
    expect(await runningOn(NAME)).toEqual(['hostB']);
    expect(await redisCli(await hostIp('hostB'), PORT, ['get', 'marker'])).toBe('still-here');
    expect(Number(await redisCli(await hostIp('hostB'), PORT, ['dbsize']))).toBe(MB * 64 + 1);
    await expectSettled('hostB');
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
