// A checkpoint or a restore cut off by an agent killed with its process group (podman and CRIU
// go down with it), at several moments. Whatever CRIU and podman left behind (CRIU's network lock,
// a frozen cgroup, a half-made container), once the agent is back the container answers on
// exactly one host with its data: "podman says running" is not proof, a client's answer is.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileHeader } from '../../agent/transfer/tar-header.ts';
import { BLOCK, TarWalker } from '../../agent/transfer/tar-walk.ts';
import { bigRedisOnHostA, eventually, expectSettled, startMigration, tidyUp } from './drive.ts';
import { BUSYBOX_IMAGE, containerState, ferry, hostIp, inventoryPath, lab, LAB, podman, REDIS_IMAGE, redisCli, removeEverywhere, runningOn } from './lab.ts';

const NAME = 'e2e-cut';
const PORT = 6386;
/** Enough memory for CRIU's dump to last about a second here. */
const MB = 256;
/** The agents' settle time in the lab (test/fixtures/ferry-agent-test) is 4 s: room for a few rounds. */
const SETTLED_WITHIN_MS = 60_000;

type Seen = ReturnType<typeof startMigration>['seen'];
const pause = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const checkpointBegan = (seen: Seen) => seen('phase', (e) => e.phase === 'checkpoint');

/** The container runs on hostA only, answers there with all its keys, and hostB holds nothing of it. */
async function answersOnHostAOnly(ipA: string): Promise<void> {
  await eventually(async () => (await runningOn(NAME)).join() === 'hostA', SETTLED_WITHIN_MS);
  await eventually(async () => (await redisCli(ipA, PORT, ['get', 'marker']).catch(() => '')) === 'still-here', SETTLED_WITHIN_MS);
  expect(Number(await redisCli(ipA, PORT, ['dbsize']))).toBe(MB * 64 + 1);
  await eventually(async () => (await containerState('hostB', NAME)) === undefined, SETTLED_WITHIN_MS);
  // Not even storage podman no longer knows of (a killed import can leave that).
  expect(await podman('hostB', ['ps', '--all', '--external', '--format', '{{.Names}}'])).not.toContain(NAME);
}

/** Every migration either host journaled is settled (done or failed), and no archive is left. */
async function settled(): Promise<void> {
  await expectSettled('hostA');
  await expectSettled('hostB');
}

describe('a checkpoint or restore cut off by an agent killed with its process group', () => {
  let ipA: string;
  let inventory: string;

  beforeAll(async () => {
    ipA = await hostIp('hostA');
    inventory = await inventoryPath();
    await bigRedisOnHostA(NAME, PORT, MB);
  });

  afterAll(() => tidyUp(NAME));

  const moments: Array<[string, (seen: Seen) => Promise<void>]> = [
    ['right after the checkpoint phase begins', async (seen) => checkpointBegan(seen)],
    ['while CRIU dumps', async (seen) => checkpointBegan(seen).then(() => pause(400))],
    ['as the dump ends', async (seen) => seen('dumped')],
    ['during the export', async (seen) => seen('progress')],
  ];
  for (const [moment, strike] of moments) {
    it(`the source's agent killed ${moment}: once it is back, the container answers on hostA`, async () => {
      const { child, seen } = startMigration(NAME, 'hostA', 'hostB', inventory);
      await strike(seen);
      await lab(['agent-stop', 'hostA', '--kill']);
      await pause(1_000);
      await lab(['agent-start', 'hostA']);
      const r = await child;
      expect(r.exitCode, String(r.stdout)).not.toBe(0);
      await answersOnHostAOnly(ipA);
      await settled();
    });
  }

  it("the destination's agent killed during the restore: the source answers again, nothing is left on hostB", async () => {
    // hostB stays down until the coordinator gives up on it (a short retry budget) and rolls back:
    // back sooner, it would be asked to restore again, and the move would complete there.
    const { child, seen } = startMigration(NAME, 'hostA', 'hostB', inventory, ['--transfer-retry-ms', '3000']);
    await seen('phase', (e) => e.phase === 'restore');
    await lab(['agent-stop', 'hostB', '--kill']);
    await seen('phase', (e) => e.phase === 'rollback');
    await lab(['agent-start', 'hostB']);
    const r = await child;
    expect(r.exitCode, String(r.stdout)).not.toBe(0);
    await answersOnHostAOnly(ipA);
    await settled();
  });

  it("the destination's agent killed as podman begins the restore: once settled, the container moves to hostB (no address left allocated there)", async () => {
    // The moment the archive checked out, podman sets up the container's network. Killed there
    // with the agent's group, it left the IP allocated in netavark's IPAM for good, and every
    // later move of the container to hostB failed (the fault campaign found it). podman now has a
    // process group of its own and ends the restore itself; the agent's recovery removes it.
    const log = `${JSON.parse(readFileSync(inventory, 'utf8')).hosts.hostB.stateDir as string}/agent.log`;
    const from = readFileSync(log, 'utf8').length;
    // Uncompressed, so that podman's import is fed while the archive arrives (the moment below is
    // that path's): its hex-encoded values compress to half, and on a loaded machine --compress
    // auto chose zstd, whose archive is imported whole once there.
    const { child } = startMigration(NAME, 'hostA', 'hostB', inventory, ['--transfer-retry-ms', '8000', '--compress', 'none']);
    // The moment, or the migration's end if it came first (then the test says how it went).
    let ended: string | undefined;
    void child.then((r) => (ended = `the migration ended (exit ${r.exitCode}) before the moment came:\n${String(r.stdout).slice(-3000)}`));
    await eventually(async () => {
      if (ended) throw new Error(ended);
      return readFileSync(log, 'utf8').slice(from).includes('podman gets its end and restores');
    }, 120_000, 10);
    await lab(['agent-stop', 'hostB', '--kill']);
    await pause(2_000);
    await lab(['agent-start', 'hostB']);
    await child;
    await eventually(async () => (await runningOn(NAME)).length === 1, SETTLED_WITHIN_MS);
    await settled();
    // Wherever it runs now, it moves to hostB and back: nothing of the cut restore refuses it.
    if ((await runningOn(NAME)).join() === 'hostB') expect((await startMigration(NAME, 'hostB', 'hostA', inventory).child).exitCode).toBe(0);
    const again = await startMigration(NAME, 'hostA', 'hostB', inventory).child;
    expect(again.exitCode, String(again.stdout)).toBe(0);
    expect(await runningOn(NAME)).toEqual(['hostB']);
    expect(await startMigration(NAME, 'hostB', 'hostA', inventory).child).toMatchObject({ exitCode: 0 });
  });

  it("runc's state of the container's ID left on hostB by a restore cut off there: the next move cleans it and succeeds", async () => {
    // What an agent killed with podman, runc and CRIU in the middle of a restore leaves (found so
    // on these hosts): runc's directory for the ID, no state in it, no container podman knows.
    // runc then refuses every container of that ID: "container with given ID already exists".
    const id = (await podman('hostA', ['container', 'inspect', '--format', '{{.Id}}', NAME])).trim();
    const runcState = `${JSON.parse(readFileSync(inventory, 'utf8')).hosts.hostB.stateDir as string}/runc/${id}`;
    mkdirSync(runcState, { recursive: true });
    const r = await startMigration(NAME, 'hostA', 'hostB', inventory).child;
    expect(r.exitCode, String(r.stdout)).toBe(0);
    expect(await runningOn(NAME)).toEqual(['hostB']);
    // hostB's preflight said what it removed.
    expect(String(r.stdout)).toContain(`removed runc's state of ${id.slice(0, 12)} that a cut-off restore had left here`);
  });

  it('a container resumed on the source that does not answer is said to be so: by the migration, ferry ps and ferry hosts, until it answers', async () => {
    const deaf = 'e2e-deaf';
    const port = 6387;
    // Its pre-checkpoint hook moves Redis off the published port and fails: the migration rolls
    // back, the container runs on hostA, and nothing answers on hostA:6387.
    await removeEverywhere(deaf);
    const hook = 'redis-cli config set port 6390 >/dev/null; exit 3';
    await podman('hostA', ['run', '-d', '--name', deaf, '-p', `${port}:6379`, '--label', `io.ferry.hook.pre-checkpoint=${hook}`, REDIS_IMAGE, 'redis-server', '--save', '', '--protected-mode', 'no']);
    try {
      await eventually(async () => (await redisCli(ipA, port, ['ping']).catch(() => '')) === 'PONG', 10_000);
      const r = await ferry(['migrate', '--from', 'hostA', '--to', 'hostB', deaf, '--json']);
      expect(r.code).toBe(3); // failed, and the rollback did not complete: it runs, but nobody is served
      const failed = r.events.find((e) => e.event === 'failed') as { rolledBack: boolean; error: { code: string; host: string; message: string } };
      expect(failed).toMatchObject({ rolledBack: false, error: { code: 'NOT_ANSWERING', host: 'hostA' } });
      expect(failed.error.message).toContain(`${ipA}:${port}`);
      expect((await ferry(['ps', 'hostA'])).stdout).toMatch(new RegExp(`${deaf} +running .*!! NOT_ANSWERING`));
      expect((await ferry(['hosts'])).stdout).toContain(`!! ${deaf}: NOT_ANSWERING`);
      // It answers again: the agent's next try at the rollback finds it so, and the mark goes.
      await podman('hostA', ['exec', deaf, 'redis-cli', '-p', '6390', 'config', 'set', 'port', '6379']);
      await eventually(async () => !(await ferry(['ps', 'hostA'])).stdout.includes('!!'), SETTLED_WITHIN_MS);
      expect(await runningOn(deaf)).toEqual(['hostA']);
      await settled();
    } finally {
      await removeEverywhere(deaf);
    }
  });
});

// podman runs detached from the agent (its own session), so an agent killed between two of
// podman's passes over the archive leaves podman blocked in open(2) on a FIFO nobody will write,
// holding its container's lock. The next agent frees it as it starts (destination/import-feed.ts).
describe('an import an earlier agent left waiting for its archive', () => {
  it("is released when hostB's agent starts: podman ends with an error, and nothing is made", async () => {
    const dir = `/var/lib/ferry-lab/${LAB}/hostB/agent/archives/m-orphaned-import.import`;
    await lab(['exec', 'hostB', 'sh', '-c', `mkdir -p ${dir} && for n in 1 2 3; do mkfifo -m 600 ${dir}/pass-$n.fifo; done`]);
    const before = await podman('hostB', ['ps', '--all', '--external', '--format', '{{.ID}}']);
    await lab(['agent-stop', 'hostB', '--kill']);
    // podman's first pass waits for a writer, as it does between passes when the agent is killed.
    const orphan = lab(['podman', 'hostB', 'container', 'restore', '--import', `${dir}/pass-1.fifo`], { reject: false });
    await pause(1_000);
    await lab(['agent-start', 'hostB']);
    const ended = await Promise.race([orphan, pause(30_000).then(() => 'still waiting')]);
    expect(ended).not.toBe('still waiting');
    expect((ended as Awaited<typeof orphan>).exitCode).not.toBe(0);
    expect(String((ended as Awaited<typeof orphan>).stderr)).toContain('unexpected EOF');
    // Nothing of it is left: no container, and the folder of a migration the journal does not know.
    expect(await podman('hostB', ['ps', '--all', '--external', '--format', '{{.ID}}'])).toBe(before);
    expect((await lab(['exec', 'hostB', 'ls', `/var/lib/ferry-lab/${LAB}/hostB/agent/archives`])).stdout).not.toContain('m-orphaned-import');
  });
});

// Why the destination, waiting for the archive to check out, leaves podman inside a header
// (destination/import-feed.ts): what podman's import makes of an archive whose pipe closed early.
describe('an archive cut off on its way into podman', () => {
  const name = 'e2e-cut-import';

  it('cut at a block boundary it is whole to podman, which restores and runs it; cut inside a header it is refused and nothing is made', async () => {
    await removeEverywhere(name, ['hostB']);
    const dir = mkdtempSync(join(tmpdir(), 'ferry-cut-import-')); // the lab's hosts share this /tmp
    try {
      await podman('hostB', ['run', '-d', '--name', name, BUSYBOX_IMAGE, 'sleep', '100000']);
      await podman('hostB', ['container', 'checkpoint', '--compress', 'none', '--export', `${dir}/whole.tar`, name]);
      await podman('hostB', ['rm', '-f', '-t', '0', name]);
      const whole = readFileSync(`${dir}/whole.tar`);
      const walker = new TarWalker(() => undefined);
      walker.push(whole);
      const end = walker.zeroBlockAt as number;
      // The archive without its end marker, and the same with 511 bytes of one more header.
      writeFileSync(`${dir}/at-boundary.tar`, whole.subarray(0, end));
      writeFileSync(`${dir}/in-header.tar`, Buffer.concat([whole.subarray(0, end), fileHeader('ferry-gate', 0, Date.now()).subarray(0, BLOCK - 1)]));

      const refused = await lab(['podman', 'hostB', 'container', 'restore', '--import', `${dir}/in-header.tar`], { reject: false });
      expect(refused.exitCode).not.toBe(0);
      expect(String(refused.stderr)).toContain('unexpected EOF');
      expect(await podman('hostB', ['ps', '--all', '--external', '--format', '{{.Names}}'])).not.toContain(name);

      await podman('hostB', ['container', 'restore', '--import', `${dir}/at-boundary.tar`]);
      expect(await containerState('hostB', name)).toBe('running');
    } finally {
      await removeEverywhere(name, ['hostB']);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
