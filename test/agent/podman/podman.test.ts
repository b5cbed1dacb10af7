import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FerryError } from '../../../common/errors.ts';
import { checkpoint } from '../../../agent/podman/checkpoint.ts';
import { hasImage, inspectContainer } from '../../../agent/podman/inspect.ts';
import { Podman } from '../../../agent/podman/podman.ts';

const fake = new URL('../../fixtures/fake-podman', import.meta.url).pathname;
const podman = new Podman({ binary: fake, globalArgs: ['--root', '/r', '--runtime', 'runc'] });

function setFake(env: Record<string, string>) {
  for (const key of ['FAKE_PODMAN_STDOUT', 'FAKE_PODMAN_STDERR', 'FAKE_PODMAN_EXIT', 'FAKE_PODMAN_SLEEP', 'FAKE_PODMAN_ARGS']) delete process.env[key];
  Object.assign(process.env, env);
}

afterEach(() => setFake({}));

async function failure(promise: Promise<unknown>): Promise<FerryError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(FerryError);
  return error as FerryError;
}

describe('Podman.run', () => {
  it('puts the host flags before every subcommand', async () => {
    const argsFile = join(mkdtempSync(join(tmpdir(), 'ferry-')), 'args');
    setFake({ FAKE_PODMAN_ARGS: argsFile, FAKE_PODMAN_STDOUT: 'ok' });
    expect(await podman.run(['ps'])).toBe('ok');
    expect(readFileSync(argsFile, 'utf8').trim()).toBe('--root /r --runtime runc ps');
  });

  it('says what ran, how it ended and what podman said', async () => {
    setFake({ FAKE_PODMAN_EXIT: '125', FAKE_PODMAN_STDERR: 'Error: something broke' });
    const error = await failure(podman.run(['rm', 'x']));
    expect(error.code).toBe('PODMAN_FAILED');
    expect(error.message).toBe('podman rm x exited with code 125: something broke');
    expect(error.details).toEqual(['Error: something broke']);
  });

  it('stops a podman that runs past its deadline', async () => {
    setFake({ FAKE_PODMAN_SLEEP: '5' });
    const started = Date.now();
    const error = await failure(podman.run(['ps'], { timeoutMs: 200 }));
    expect(error.message).toMatch(/timed out/);
    expect(Date.now() - started).toBeLessThan(4000);
  });

  it('kills podman when the caller cancels', async () => {
    setFake({ FAKE_PODMAN_SLEEP: '5' });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const error = await failure(podman.run(['ps'], { signal: controller.signal }));
    expect(error.code).toBe('CANCELLED');
  });
});

describe('podman failures become Ferry codes', () => {
  it('no such container is CONTAINER_NOT_FOUND', async () => {
    setFake({ FAKE_PODMAN_EXIT: '125', FAKE_PODMAN_STDERR: 'Error: no such container nosuch' });
    const error = await failure(inspectContainer(podman, 'nosuch'));
    expect(error.code).toBe('CONTAINER_NOT_FOUND');
    expect(error.message).toBe('no container named or with ID "nosuch"');
  });

  it('image exists answers false on exit 1 and fails on anything else', async () => {
    setFake({ FAKE_PODMAN_EXIT: '1' });
    expect(await hasImage(podman, 'abc')).toBe(false);
    setFake({ FAKE_PODMAN_EXIT: '0' });
    expect(await hasImage(podman, 'abc')).toBe(true);
    setFake({ FAKE_PODMAN_EXIT: '125', FAKE_PODMAN_STDERR: 'Error: storage is broken' });
    expect((await failure(hasImage(podman, 'abc'))).code).toBe('PODMAN_FAILED');
  });

  it('a failed checkpoint carries the Error lines of the CRIU log it names', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferry-'));
    const log = join(dir, 'dump.log');
    writeFileSync(
      log,
      [
        '(00.001) Version: 4.2.1',
        '(00.120) Error (criu/sockets.c:616): sockets: Can\'t get 1:16 opt: Operation not supported',
        '(00.121) Error (criu/cr-dump.c:1600): Dump files (pid: 12) failed with -1',
        '(00.130) Dumping finished with error',
      ].join('\n'),
    );
    setFake({
      FAKE_PODMAN_EXIT: '125',
      FAKE_PODMAN_STDERR: `Error: failed to checkpoint: CRIU checkpointing failed -52.  Please check CRIU logfile ${log}: error`,
    });
    const error = await failure(checkpoint(podman, { container: 'c', exportPath: '/x.tar', compress: 'none' }));
    expect(error.code).toBe('CHECKPOINT_FAILED');
    expect(error.details).toEqual([
      "(00.120) Error (criu/sockets.c:616): sockets: Can't get 1:16 opt: Operation not supported",
      '(00.121) Error (criu/cr-dump.c:1600): Dump files (pid: 12) failed with -1',
    ]);
  });
});
