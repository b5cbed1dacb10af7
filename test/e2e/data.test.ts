// Bind-mounted data travels with the container, on lab hosts that each have their own /srv: the
// bulk while the container runs, what changed after the freeze, files, links, modes, owners,
// mtimes and holes intact; a destination path that holds data is refused unless replaced.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUSYBOX_IMAGE, containerState, ferry, lab, podman, removeEverywhere, runningOn } from './lab.ts';

const NAME = 'e2e-data';
const DIR = '/srv/e2e-data';

async function sh(host: string, script: string): Promise<string> {
  return String((await lab(['exec', host, 'sh', '-c', script])).stdout).trim();
}

/** Everything about the tree that must survive, except the growing log: names, types, modes, owners, sizes, content. */
const fingerprint = (host: string) =>
  sh(host, `cd ${DIR} && find . ! -name log -printf '%p %y %m %u:%g %s %l\\n' | sort && find . -type f ! -name log -exec md5sum {} + | sort`);

/** Modification times in seconds, by path (the log's directory excepted, the log keeps changing it). */
async function mtimes(host: string): Promise<Map<string, number>> {
  const out = await sh(host, `cd ${DIR} && find . -mindepth 1 ! -name log -printf '%p %T@\\n'`);
  return new Map(out.split('\n').map((l) => l.split(' ') as [string, string]).map(([p, t]) => [p, Number(t)]));
}

describe('bind-mounted data', () => {
  beforeAll(async () => {
    await removeEverywhere(NAME);
    for (const host of ['hostA', 'hostB']) await sh(host, `rm -rf ${DIR} ${DIR}.ferry-*`);
    await sh(
      'hostA',
      [
        `mkdir -p ${DIR}/sub/deeper`,
        `head -c 5000000 /dev/urandom > ${DIR}/big.bin`,
        `echo hello > ${DIR}/sub/hello.txt`,
        `ln ${DIR}/sub/hello.txt ${DIR}/hardlink.txt`,
        `ln -s sub/hello.txt ${DIR}/symlink`,
        `: > ${DIR}/empty`,
        `truncate -s 64M ${DIR}/sparse.img && printf 'middle' | dd of=${DIR}/sparse.img bs=1 seek=33554432 conv=notrunc 2>/dev/null`,
        `chown -R 1000:1000 ${DIR}/sub && chmod 640 ${DIR}/sub/hello.txt && chmod 700 ${DIR}/sub/deeper`,
        `touch -d '2020-01-02 03:04:05.123456789' ${DIR}/big.bin`,
      ].join(' && '),
    );
    expect(await sh('hostB', `ls ${DIR} 2>&1 || true`)).toMatch(/No such file/); // hostB has its own /srv
    // A writer that keeps changing the data while the container runs.
    const script = '(while true; do date +%s%N >> /data/log; sleep 0.05; done) & exec httpd -f -p 8080';
    await podman('hostA', ['run', '-d', '--name', NAME, '-p', '8096:8080', '-v', `${DIR}:/data`, BUSYBOX_IMAGE, 'sh', '-c', script]);
  });

  afterAll(async () => {
    await removeEverywhere(NAME);
    for (const host of ['hostA', 'hostB']) await sh(host, `rm -rf ${DIR} ${DIR}.ferry-*`).catch(() => undefined);
  });

  it('moves to the destination: bulk while running, the changes after the freeze', async () => {
    await sh('hostA', `for i in $(seq 50); do [ -s ${DIR}/log ] && exit 0; sleep 0.1; done; exit 1`);
    const before = await fingerprint('hostA');
    const timesBefore = await mtimes('hostA');
    const r = await ferry(['migrate', '--from', 'hostA', '--to', 'hostB', NAME, '--json']);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    const rounds = r.events.filter((e) => e.event === 'data-synced') as Array<{ round: number; bytes: number; entries: number }>;
    expect(rounds.map((e) => e.round)).toEqual([0, 1]);
    expect(rounds[0]?.bytes).toBeGreaterThan(5_000_000);
    expect(rounds[1]?.bytes).toBeLessThan(100_000); // only the log and what else changed
    expect(await runningOn(NAME)).toEqual(['hostB']);

    expect(await fingerprint('hostB')).toBe(before);
    // Times are kept to the microsecond (Node's utimes takes a double).
    const timesAfter = await mtimes('hostB');
    expect([...timesAfter.keys()].sort()).toEqual([...timesBefore.keys()].sort());
    for (const [path, time] of timesBefore) expect(Math.abs((timesAfter.get(path) ?? 0) - time), path).toBeLessThan(2e-6);
    expect(Number(await sh('hostB', `du -k ${DIR}/sparse.img | cut -f1`))).toBeLessThan(1024); // still sparse
    expect(await sh('hostB', `stat -c %i ${DIR}/hardlink.txt`)).toBe(await sh('hostB', `stat -c %i ${DIR}/sub/hello.txt`));
    // The log the container wrote up to the freeze is all there, and it keeps writing on hostB.
    const lines = Number(await sh('hostB', `wc -l < ${DIR}/log`));
    expect(lines).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 500));
    expect(Number(await sh('hostB', `wc -l < ${DIR}/log`))).toBeGreaterThan(lines);
    // The source keeps its copy as of the freeze, set aside, so the path is free for a return.
    expect(await sh('hostA', `ls -d ${DIR} ${DIR}.ferry-left-* 2>/dev/null || true`)).toMatch(new RegExp(`^${DIR}\\.ferry-left-m-`));
    expect(await containerState('hostA', NAME)).toBeUndefined();
  });

  it('refuses a destination path that holds data, and replaces it when asked', async () => {
    await sh('hostA', `mkdir -p ${DIR} && echo precious > ${DIR}/keep`);
    const refused = await ferry(['migrate', '--from', 'hostB', '--to', 'hostA', NAME, '--json']);
    expect(refused.code).toBe(1);
    expect(refused.events.at(-1)).toMatchObject({ event: 'failed', error: { code: 'DEST_DATA_EXISTS', phase: 'preflight', host: 'hostA' } });
    expect(await sh('hostA', `cat ${DIR}/keep`)).toBe('precious');
    expect(await runningOn(NAME)).toEqual(['hostB']);

    const replaced = await ferry(['migrate', '--from', 'hostB', '--to', 'hostA', NAME, '--replace-data']);
    expect(replaced.code, replaced.stderr).toBe(0);
    expect(await runningOn(NAME)).toEqual(['hostA']);
    expect(await sh('hostA', `ls ${DIR}/keep 2>&1 || true`)).toMatch(/No such file/);
    expect(await sh('hostA', `ls ${DIR}/big.bin`)).toBe(`${DIR}/big.bin`);
    expect(await sh('hostA', `ls -d ${DIR}.ferry-replaced-* 2>/dev/null || true`)).toBe(''); // dropped at commit
  });
});
