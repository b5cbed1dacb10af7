import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
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

async function ferry(args: string[], name = 'ferry', cwd?: string) {
  const r = await execa(bin(name), args, { reject: false, env: { FERRY_INVENTORY: inventory }, cwd });
  return { code: r.exitCode, out: String(r.stdout), err: String(r.stderr) };
}

describe('ferry CLI: bad input gets a clear error and changes nothing', () => {
  it('explains itself, and each command its own options with their defaults', async () => {
    const r = await ferry(['--help']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('ferry migrate --from HOST --to HOST CONTAINER');
    expect(r.out).toContain('Exit codes');
    const migrate = await ferry(['migrate', '--help']);
    expect(migrate.code).toBe(0);
    expect(migrate.out).toMatch(/--verify-timeout <ms> +how long each published port may take to answer\s+\(default: "10000"\)/);
    expect(migrate.out).toContain('--inventory <file>'); // the options every command takes, too
    expect(migrate.out).not.toContain('--parallel');
    const evacuate = await ferry(['evacuate', '--help']);
    expect(evacuate.out).toMatch(/--parallel <n> +how many containers move at once \(1 to 16\) \(default:\s+"1"\)/);
  });

  it('completes in bash and zsh, from the commands and options it has', async () => {
    const bash = await ferry(['completion', 'bash']);
    expect(bash.code).toBe(0);
    expect(bash.out).toContain('complete -o default -F _ferry ferry');
    expect(bash.out).toMatch(/evacuate\) words_for="[^"]*--parallel[^"]*--inventory/);
    expect(bash.out).toMatch(/compgen -W "migrate preflight evacuate return cordon uncordon hosts ps history status park unpark agent certs completion help"/);
    const zsh = await ferry(['completion', 'zsh']);
    expect(zsh.out).toContain('bashcompinit');
    // The script is bash that bash reads.
    const checked = await execa('bash', ['-n'], { input: bash.out, reject: false });
    expect(checked.exitCode).toBe(0);
    expect(await ferry(['completion', 'fish'])).toMatchObject({ code: 2, err: expect.stringContaining('completion is for bash or zsh') });
  });

  it('asks for what is missing', async () => {
    expect(await ferry(['migrate', '--to', 'hostB', 'c'])).toMatchObject({ code: 2, err: expect.stringContaining('error BAD_REQUEST: --from HOST is required') });
    expect(await ferry(['migrate', '--from', 'hostA', '--to', 'hostB'])).toMatchObject({ code: 2, err: expect.stringContaining('which container?') });
    expect(await ferry(['migrate', '--bogus'])).toMatchObject({ code: 2, err: expect.stringContaining("error BAD_REQUEST: unknown option '--bogus'") });
    expect(await ferry(['teleport'])).toMatchObject({ code: 2, err: expect.stringContaining("error BAD_REQUEST: unknown command 'teleport'") });
    // An option of another command is refused by the one that got it, and its help is named.
    const wrong = await ferry(['hosts', '--parallel', '3']);
    expect(wrong).toMatchObject({ code: 2, err: expect.stringContaining("unknown option '--parallel'") });
    expect(wrong.err).toContain('See `ferry hosts --help`');
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
    expect(r).toMatchObject({ code: 2, err: expect.stringContaining("option '--compress <alg>' argument 'lz4' is invalid. Allowed choices are auto, none, zstd, gzip.") });
  });
});

describe('ferry certs', () => {
  it('takes a --dir relative to where it is run: init, issue, renew and revoke', async () => {
    const where = mkdtempSync(join(tmpdir(), 'ferry-certs-cwd-'));
    // Before there is a CA: a clear error that says what to do, and nothing written.
    const early = await ferry(['certs', 'issue', 'hostR', '--role', 'agent', '--dir', 'pki'], 'ferry', where);
    expect(early).toMatchObject({ code: 2, err: expect.stringContaining(`error BAD_REQUEST: no CA in ${join(where, 'pki')}`) });
    expect(early.err).toContain('ferry certs init --dir pki');
    expect(readdirSync(where)).toEqual([]);
    expect(await ferry(['certs', 'init', '--dir', 'pki'], 'ferry', where)).toMatchObject({ code: 0 });
    const issued = await ferry(['certs', 'issue', 'hostR', '--role', 'agent', '--dir', 'pki'], 'ferry', where);
    expect(issued.err).toBe('');
    expect(issued.code).toBe(0);
    expect(readdirSync(join(where, 'pki')).sort()).toEqual(['ca.key', 'ca.pem', 'hostR.key', 'hostR.pem']);
    expect(await ferry(['certs', 'renew', 'hostR', '--dir', 'pki'], 'ferry', where)).toMatchObject({ code: 0, err: '' });
    expect(await ferry(['certs', 'revoke', 'hostR', '--dir', 'pki'], 'ferry', where)).toMatchObject({ code: 0, err: '' });
    expect(readdirSync(join(where, 'pki'))).toContain('crl.pem');
  });
});
