import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';

const bin = (name: string) => new URL(`../../bin/${name}`, import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'ferry-cli-'));
const inventory = join(dir, 'inventory.json');
// Port 1 on loopback: nothing listens there, so the agents are unreachable.
writeFileSync(
  inventory,
  JSON.stringify({ hosts: { hostA: { address: '127.0.0.1', agent: '127.0.0.1:1' }, hostB: { address: '127.0.0.1', agent: '127.0.0.2:1' } } }),
);

async function ferry(args: string[], name = 'ferry') {
  const r = await execa(bin(name), args, { reject: false, env: { FERRY_INVENTORY: inventory } });
  return { code: r.exitCode, out: String(r.stdout), err: String(r.stderr) };
}

describe('ferry CLI: bad input gets a clear error and changes nothing', () => {
  it('explains itself', async () => {
    const r = await ferry(['--help']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('ferry migrate --from HOST --to HOST CONTAINER');
    expect(r.out).toContain('Exit codes');
  });

  it('asks for what is missing', async () => {
    expect(await ferry(['migrate', '--to', 'hostB', 'c'])).toMatchObject({ code: 2, err: expect.stringContaining('error BAD_REQUEST: --from HOST is required') });
    expect(await ferry(['migrate', '--from', 'hostA', '--to', 'hostB'])).toMatchObject({ code: 2, err: expect.stringContaining('which container?') });
    expect(await ferry(['migrate', '--bogus'])).toMatchObject({ code: 2, err: expect.stringContaining("Unknown option '--bogus'") });
    expect(await ferry(['teleport'])).toMatchObject({ code: 2, err: expect.stringContaining('unknown command "teleport"') });
  });

  it('refuses an unknown host and the same host twice', async () => {
    const unknown = await ferry(['migrate', '--from', 'hostA', '--to', 'hostQ', 'c']);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('error UNKNOWN_HOST: unknown host "hostQ"');
    expect(unknown.err).toContain('Known hosts: hostA, hostB');
    const same = await ferry(['migrate', '--from', 'hostA', '--to', 'hostA', 'c']);
    expect(same.code).toBe(2);
    expect(same.err).toContain('error SAME_HOST: [preflight] --from and --to are both hostA');
  });

  it('works as `migrate` too, and speaks JSON for scripts', async () => {
    const r = await ferry(['--from', 'hostA', '--to', 'hostB', 'c', '--json'], 'migrate');
    expect(r.code).toBe(1);
    const events = r.out.trim().split('\n').map((l) => JSON.parse(l));
    expect(events[0]).toMatchObject({ event: 'phase', phase: 'preflight' });
    const failed = events.at(-1);
    expect(failed).toMatchObject({ event: 'failed', rolledBack: true, error: { code: 'AGENT_UNREACHABLE', phase: 'preflight' } });
    expect(['hostA', 'hostB']).toContain(failed.error.host);
    expect(failed.error.hint).toBeTruthy();
  });

  it('rejects a bad --compress before contacting anyone', async () => {
    const r = await ferry(['migrate', '--from', 'hostA', '--to', 'hostB', '--compress', 'lz4', 'c']);
    expect(r).toMatchObject({ code: 2, err: expect.stringContaining('--compress must be one of auto, none, zstd, gzip') });
  });
});
