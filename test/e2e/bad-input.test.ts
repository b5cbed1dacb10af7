// Bad input on real lab hosts: each gets a clear error with a stable code, and changes nothing:
// the container keeps running on the source, untouched, and the destination has no copy.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containerState, ferry, fillRedis, hostIp, lab, podman, redisCli, removeEverywhere, runningOn, startRedis, BUSYBOX_IMAGE } from './lab.ts';

const NAME = 'e2e-stays';
const PORT = 6381;
const KEYS = 500;

interface ErrorEvent {
  event: string;
  rolledBack?: boolean;
  error: { code: string; phase?: string; host?: string; message: string; hint: string };
}

function lastError(events: Array<Record<string, unknown>>): ErrorEvent['error'] | undefined {
  const last = events.at(-1) as ErrorEvent | undefined;
  return last?.error;
}

describe('bad input changes nothing', () => {
  let ipA: string;
  let startedAt: string;

  beforeAll(async () => {
    ipA = await hostIp('hostA');
    await removeEverywhere(NAME);
    await startRedis('hostA', NAME, PORT);
    await fillRedis(ipA, PORT, KEYS);
    startedAt = (await podman('hostA', ['container', 'inspect', '--format', '{{.State.StartedAt}}', NAME])).trim();
  });

  afterAll(async () => {
    await lab(['agent-start', 'hostB'], { reject: false });
    await removeEverywhere(NAME);
    await removeEverywhere('e2e-port-holder');
  });

  /** The container still runs on hostA, never restarted, with its keys; hostB has no copy. */
  async function expectUntouched() {
    expect(await runningOn(NAME)).toEqual(['hostA']);
    expect(await containerState('hostB', NAME)).toBeUndefined();
    expect((await podman('hostA', ['container', 'inspect', '--format', '{{.State.StartedAt}}', NAME])).trim()).toBe(startedAt);
    expect(await redisCli(ipA, PORT, ['dbsize'])).toBe(String(KEYS));
  }

  it('ferry preflight checks both hosts and changes nothing', async () => {
    const r = await ferry(['preflight', '--from', 'hostA', '--to', 'hostB', NAME]);
    expect(r.code, r.stderr).toBe(0);
    for (const check of ['criu', 'name', 'image', 'port', 'ip', 'network', 'cpu', 'disk']) {
      expect(r.stdout).toMatch(new RegExp(`hostB: ok +${check}: `));
    }
    expect(r.stdout).toMatch(/hostB: ok +disk: \d+ MiB free in \S+, about \d+ MiB needed/);
    expect(r.stdout).toContain(`every check passed: ${NAME} can move from hostA to hostB (dry run: nothing was changed)`);
    await expectUntouched();
    const json = await ferry(['migrate', '--dry-run', '--from', 'hostA', '--to', 'hostB', NAME, '--json']);
    expect(json.code).toBe(0);
    expect(json.events.at(-1)).toMatchObject({ event: 'preflight-ok', container: NAME });
    await expectUntouched();
  });

  it('an unknown container', async () => {
    const r = await ferry(['migrate', '--from', 'hostA', '--to', 'hostB', 'no-such-container', '--json']);
    expect(r.code).toBe(1);
    expect(lastError(r.events)).toMatchObject({ code: 'CONTAINER_NOT_FOUND', phase: 'preflight', host: 'hostA', message: 'no container named or with ID "no-such-container"' });
    await expectUntouched();
  });

  it('an unknown host, and the same host twice', async () => {
    const unknown = await ferry(['migrate', '--from', 'hostA', '--to', 'hostZ', NAME]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('error UNKNOWN_HOST: unknown host "hostZ"');
    expect(unknown.stderr).toContain('Known hosts: hostA, hostB');
    const same = await ferry(['migrate', '--from', 'hostA', '--to', 'hostA', NAME]);
    expect(same.code).toBe(2);
    expect(same.stderr).toContain('error SAME_HOST');
    await expectUntouched();
  });

  it('a container that is not running', async () => {
    await podman('hostA', ['run', '-d', '--name', 'e2e-stopped', BUSYBOX_IMAGE, 'true']);
    await podman('hostA', ['wait', 'e2e-stopped']);
    const r = await ferry(['migrate', '--from', 'hostA', '--to', 'hostB', 'e2e-stopped', '--json']);
    await podman('hostA', ['rm', '-f', 'e2e-stopped']);
    expect(r.code).toBe(1);
    expect(lastError(r.events)).toMatchObject({ code: 'CONTAINER_NOT_RUNNING', phase: 'preflight' });
  });

  it('a published port already taken on the destination', async () => {
    await podman('hostB', ['run', '-d', '--name', 'e2e-port-holder', '-p', `${PORT}:8080`, BUSYBOX_IMAGE, 'httpd', '-f', '-p', '8080']);
    const r = await ferry(['migrate', '--from', 'hostA', '--to', 'hostB', NAME]);
    await podman('hostB', ['rm', '-f', '-t', '0', 'e2e-port-holder']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error DEST_PORT_BUSY: [preflight@hostB] port ${PORT}/tcp is already published by container e2e-port-holder on hostB`);
    expect(r.stderr).toContain('hint: ');
    expect(r.stderr).toContain('nothing was changed');
    await expectUntouched();
  });

  it('a published port that does not answer even on the source', async () => {
    await podman('hostA', ['run', '-d', '--name', 'e2e-deaf', '-p', '6382:80', BUSYBOX_IMAGE, 'sleep', '600']);
    const r = await ferry(['migrate', '--from', 'hostA', '--to', 'hostB', 'e2e-deaf', '--json']);
    expect(r.code).toBe(1);
    expect(lastError(r.events)).toMatchObject({ code: 'PREFLIGHT_FAILED', phase: 'preflight', host: 'hostA' });
    expect(lastError(r.events)?.message).toContain('published port 6382 of e2e-deaf does not answer on hostA');
    expect(await runningOn('e2e-deaf')).toEqual(['hostA']);
    await podman('hostA', ['rm', '-f', '-t', '0', 'e2e-deaf']);
  });

  it('a container of the same name on the destination', async () => {
    await podman('hostB', ['create', '--name', NAME, BUSYBOX_IMAGE, 'true']);
    const r = await ferry(['migrate', '--from', 'hostA', '--to', 'hostB', NAME, '--json']);
    await podman('hostB', ['rm', '-f', NAME]);
    expect(r.code).toBe(1);
    expect(lastError(r.events)).toMatchObject({ code: 'DEST_NAME_TAKEN', phase: 'preflight', host: 'hostB' });
    await expectUntouched();
  });

  it('the destination agent is unreachable', async () => {
    await lab(['agent-stop', 'hostB']);
    try {
      const r = await ferry(['migrate', '--from', 'hostA', '--to', 'hostB', NAME, '--json']);
      expect(r.code).toBe(1);
      expect(lastError(r.events)).toMatchObject({ code: 'AGENT_UNREACHABLE', phase: 'preflight', host: 'hostB' });
      expect(lastError(r.events)?.hint).toContain('agent runs on that host');
    } finally {
      await lab(['agent-start', 'hostB']);
    }
    await expectUntouched();
  });

  it('and after all that, the container still migrates', async () => {
    const r = await ferry(['migrate', '--from', 'hostA', '--to', 'hostB', NAME]);
    expect(r.code, r.stderr).toBe(0);
    expect(await runningOn(NAME)).toEqual(['hostB']);
    expect(await redisCli(await hostIp('hostB'), PORT, ['dbsize'])).toBe(String(KEYS));
  });
});
