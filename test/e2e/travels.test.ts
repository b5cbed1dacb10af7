// Everything a container needs travels with it, on real lab hosts: its image when the
// destination lacks it, named volumes, changes to its root filesystem, a deleted-but-open file,
// and its hooks, which can stop a migration before anything is frozen.
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { BUSYBOX_IMAGE, containerState, ferry, hostIp, lab, podman, removeEverywhere, runningOn } from './lab.ts';
import { tcpAnswers, waitForPort } from '../../common/tcp.ts';

const names = ['e2e-own-image', 'e2e-volume', 'e2e-ghost', 'e2e-hook', 'e2e-validate', 'e2e-mismatch', 'e2e-nonroot'];

/** Whether this machine's root may read other users' rlimits, which CRIU needs to dump them. */
function hasSysResource(): boolean {
  const capEff = /CapEff:\s*([0-9a-f]+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0';
  return (BigInt(`0x${capEff}`) & (1n << 24n)) !== 0n;
}

afterAll(async () => {
  for (const name of names) await removeEverywhere(name);
  await removeEverywhere('e2e-image-maker');
  for (const host of ['hostA', 'hostB']) {
    await podman(host, ['rmi', '-f', 'localhost/ferry-lab/only-on-a:1'], { reject: false });
    await podman(host, ['volume', 'rm', '-f', 'e2e-vol'], { reject: false });
  }
});

/** A busybox web server on `port`, so verification has something to reach. */
function httpd(name: string, port: number, extra: string[] = [], script = 'exec httpd -f -p 8080') {
  return ['run', '-d', '--name', name, '-p', `${port}:8080`, ...extra, BUSYBOX_IMAGE, 'sh', '-c', script];
}

async function migrateOk(name: string) {
  const r = await ferry(['migrate', '--from', 'hostA', '--to', 'hostB', name, '--json']);
  expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
  expect(await runningOn(name)).toEqual(['hostB']);
  return r.events;
}

describe('what travels with a container', () => {
  it('its image, when only the source has it', async () => {
    await podman('hostA', ['run', '--name', 'e2e-image-maker', BUSYBOX_IMAGE, 'sh', '-c', 'echo built-on-a > /marker']);
    await podman('hostA', ['commit', '--quiet', 'e2e-image-maker', 'localhost/ferry-lab/only-on-a:1']);
    await podman('hostA', ['rm', 'e2e-image-maker']);
    const imageId = (await podman('hostA', ['image', 'inspect', '--format', '{{.Id}}', 'localhost/ferry-lab/only-on-a:1'])).trim();
    expect((await lab(['podman', 'hostB', 'image', 'exists', imageId], { reject: false })).exitCode).toBe(1); // hostB lacks it
    await podman('hostA', ['run', '-d', '--name', 'e2e-own-image', '-p', '8091:8080', 'localhost/ferry-lab/only-on-a:1', 'httpd', '-f', '-p', '8080']);

    const events = await migrateOk('e2e-own-image');
    const sent = events.find((e) => e.event === 'image-sent');
    expect(sent).toMatchObject({ image: 'localhost/ferry-lab/only-on-a:1' });
    expect(Number(sent?.bytes)).toBeGreaterThan(100_000);
    expect((await podman('hostB', ['image', 'inspect', '--format', '{{.Id}}', 'localhost/ferry-lab/only-on-a:1'])).trim()).toBe(imageId);
    expect((await podman('hostB', ['exec', 'e2e-own-image', 'cat', '/marker'])).trim()).toBe('built-on-a');

    // Back and forth again: the image is on both hosts now and is not sent a second time.
    const back = await ferry(['migrate', '--from', 'hostB', '--to', 'hostA', 'e2e-own-image', '--json']);
    expect(back.code, back.stderr).toBe(0);
    expect(back.events.some((e) => e.event === 'image-sent')).toBe(false);
  });

  it('a named volume and changes to its root filesystem', async () => {
    await podman('hostA', httpd('e2e-volume', 8092, ['-v', 'e2e-vol:/vol']));
    await podman('hostA', ['exec', 'e2e-volume', 'sh', '-c', 'echo in-volume > /vol/data && echo in-rootfs > /etc/rootfs-marker']);
    await migrateOk('e2e-volume');
    expect((await podman('hostB', ['exec', 'e2e-volume', 'cat', '/vol/data'])).trim()).toBe('in-volume');
    expect((await podman('hostB', ['exec', 'e2e-volume', 'cat', '/etc/rootfs-marker'])).trim()).toBe('in-rootfs');
  });

  it('a deleted file it still holds open (a 20 MB ghost file)', async () => {
    // The web server inherits fd 3 of a 20 MB file that no longer has a name.
    const script = 'head -c 20971520 /dev/urandom > /ghost && exec 3</ghost && rm /ghost && exec httpd -f -p 8080';
    await podman('hostA', httpd('e2e-ghost', 8093, [], script));
    expect(await waitForPort(await hostIp('hostA'), 8093, 20_000)).toBe(true); // the file is written and deleted by now
    const before = (await podman('hostA', ['exec', 'e2e-ghost', 'sh', '-c', 'md5sum < /proc/1/fd/3'])).trim();
    await migrateOk('e2e-ghost');
    expect((await podman('hostB', ['exec', 'e2e-ghost', 'sh', '-c', 'wc -c < /proc/1/fd/3'])).trim()).toBe('20971520');
    expect((await podman('hostB', ['exec', 'e2e-ghost', 'sh', '-c', 'md5sum < /proc/1/fd/3'])).trim()).toBe(before);
  });

  it('a pre-checkpoint hook that fails leaves the container running on the source, untouched', async () => {
    await podman('hostA', httpd('e2e-hook', 8094, ['--label', 'io.ferry.hook.pre-checkpoint=echo not today >&2; exit 3']));
    const started = (await podman('hostA', ['container', 'inspect', '--format', '{{.State.StartedAt}}', 'e2e-hook'])).trim();
    const r = await ferry(['migrate', '--from', 'hostA', '--to', 'hostB', 'e2e-hook', '--json']);
    expect(r.code).toBe(1);
    const failed = r.events.at(-1) as { event: string; rolledBack: boolean; error: { code: string; message: string; host: string } };
    expect(failed).toMatchObject({ event: 'failed', rolledBack: true, error: { code: 'HOOK_FAILED', host: 'hostA' } });
    expect(failed.error.message).toContain('io.ferry.hook.pre-checkpoint');
    expect(failed.error.message).toContain('not today');
    expect(await runningOn('e2e-hook')).toEqual(['hostA']);
    expect(await containerState('hostB', 'e2e-hook')).toBeUndefined();
    expect((await podman('hostA', ['container', 'inspect', '--format', '{{.State.StartedAt}}', 'e2e-hook'])).trim()).toBe(started);
    expect(await tcpAnswers(await hostIp('hostA'), 8094, 2000)).toBe(true);
  });

  it('a validation command must print the same before and after', async () => {
    // It leaves a trace of each run in the container's filesystem, which travels with it.
    const validate = 'cat /state; echo ran >> /validated';
    await podman('hostA', httpd('e2e-validate', 8095, ['--label', `io.ferry.validate=${validate}`, '--label', 'io.ferry.hook.pre-checkpoint=echo 42 > /state']));
    await migrateOk('e2e-validate');
    expect((await podman('hostB', ['exec', 'e2e-validate', 'cat', '/state'])).trim()).toBe('42');
    // Once on hostA before the freeze, once on hostB after the restore.
    expect((await podman('hostB', ['exec', 'e2e-validate', 'cat', '/validated'])).trim().split('\n')).toEqual(['ran', 'ran']);
  });

  it('a validation command that prints something else after the restore rolls the move back', async () => {
    await podman('hostA', httpd('e2e-mismatch', 8099, ['--label', 'io.ferry.validate=cat /proc/sys/kernel/random/uuid']));
    const r = await ferry(['migrate', '--from', 'hostA', '--to', 'hostB', 'e2e-mismatch', '--json']);
    expect(r.code).toBe(1);
    const failed = r.events.at(-1) as { event: string; rolledBack: boolean; error: { code: string; details: string[] } };
    expect(failed).toMatchObject({ event: 'failed', rolledBack: true, error: { code: 'VALIDATION_MISMATCH' } });
    expect(failed.error.details.some((d) => d.startsWith('before the checkpoint:'))).toBe(true);
    expect(await runningOn('e2e-mismatch')).toEqual(['hostA']);
    expect(await containerState('hostB', 'e2e-mismatch')).toBeUndefined();
    expect(await waitForPort(await hostIp('hostA'), 8099, 10_000)).toBe(true);
  });

  it('a process of another user: on these machines CRIU cannot dump it, and says why', async () => {
    await podman('hostA', httpd('e2e-nonroot', 8097, ['--user', '1000:1000']));
    const r = await ferry(['migrate', '--from', 'hostA', '--to', 'hostB', 'e2e-nonroot', '--json']);
    if (hasSysResource()) {
      // Hosts whose root keeps CAP_SYS_RESOURCE dump it like any other.
      expect(r.code, r.stdout).toBe(0);
      expect(await runningOn('e2e-nonroot')).toEqual(['hostB']);
      return;
    }
    expect(r.code).toBe(1);
    const failed = r.events.at(-1) as { error: { code: string; phase: string; host: string; details: string[]; hint: string } };
    expect(failed.error).toMatchObject({ code: 'CHECKPOINT_FAILED', phase: 'checkpoint', host: 'hostA' });
    // The CRIU log's own Error lines come with the error: nobody has to go and find dump.log.
    expect(failed.error.details.some((l) => /Error \(criu\/cr-dump\.c:\d+\): Can't get rlimit/.test(l))).toBe(true);
    expect(await runningOn('e2e-nonroot')).toEqual(['hostA']);
    expect(await tcpAnswers(await hostIp('hostA'), 8097, 2000)).toBe(true);
  });
});
