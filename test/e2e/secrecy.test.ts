// Nobody else gets in, and nothing leaks: the lab's agents speak mutual TLS on both their ports,
// so a capture of the bridge during a migration shows no plaintext of a secret held in the container's memory,
// while the same capture does see it in a plaintext Redis reply (so the capture works). Afterwards
// no archive, staging path or temporary file of the migration is left on either host.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { ferry, hostIp, inventoryPath, LAB, lab, redisCli, removeEverywhere, runningOn, startRedis } from './lab.ts';

const NAME = 'e2e-secret';
const PORT = 6385;

/** Captures whole packets on the lab bridge while `work` runs; returns the capture's bytes. */
async function capture(filter: string, work: () => Promise<unknown>): Promise<Buffer> {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-cap-'));
  const file = join(dir, 'cap.pcap');
  // --immediate-mode: with block buffering, packets still in the ring when tcpdump stops are lost.
  const tcpdump = execa('tcpdump', ['-i', `${LAB}-br`, '--immediate-mode', '-s', '0', '-U', '-w', file, filter], { reject: false });
  await new Promise((r) => setTimeout(r, 1_000)); // tcpdump is listening by now
  try {
    await work();
  } finally {
    await new Promise((r) => setTimeout(r, 500));
    tcpdump.kill('SIGINT');
    await tcpdump;
  }
  try {
    return readFileSync(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

afterAll(async () => {
  await removeEverywhere(NAME);
});

describe('secrecy on the wire and at rest', () => {
  it('a migration over mutual TLS carries no plaintext of the memory it moves', async () => {
    const secret = `ferry-secret-${randomBytes(12).toString('hex')}`;
    await removeEverywhere(NAME);
    await startRedis('hostA', NAME, PORT);
    const ipA = await hostIp('hostA');
    await redisCli(ipA, PORT, ['set', 'secret', secret]);

    // The agents' control plane (gRPC, 7070) and their data plane (7071), which carries the archive.
    const agents = await capture('tcp port 7070 or tcp port 7071', async () => {
      const r = await ferry(['migrate', '--from', 'hostA', '--to', 'hostB', NAME]);
      expect(r.code, r.stderr).toBe(0);
    });
    expect(agents.length).toBeGreaterThan(100_000); // the archive did cross the bridge
    expect(agents.includes(Buffer.from(secret))).toBe(false);
    expect(agents.includes(Buffer.from('redis-server'))).toBe(false); // nor the process's own text

    // Control: the same capture sees the secret when Redis itself sends it in the clear.
    const ipB = await hostIp('hostB');
    const plain = await capture(`tcp port ${PORT}`, () => redisCli(ipB, PORT, ['get', 'secret']));
    expect(plain.includes(Buffer.from(secret))).toBe(true);
    expect(await runningOn(NAME)).toEqual(['hostB']);
  });

  it('leaves no archive, staging path or temporary file of the migration on either host', async () => {
    const hosts = JSON.parse(readFileSync(await inventoryPath(), 'utf8')).hosts as Record<string, { stateDir: string }>;
    for (const [host, { stateDir }] of Object.entries(hosts)) {
      const archives = String((await execa('sh', ['-c', `ls -A ${stateDir}/agent/archives`])).stdout).trim();
      expect(archives, host).toBe('');
      // Nor the memory pages that came beside the archive, nor the link the restore made to them.
      const pages = String((await lab(['exec', host, 'sh', '-c', 'ls -A /var/lib/containers/storage/ferry-pages 2>/dev/null; find /var/lib/containers/storage/overlay-containers -name ferry-pages.img 2>/dev/null; true'])).stdout).trim();
      expect(pages, host).toBe('');
      const staging = String((await lab(['exec', host, 'sh', '-c', 'ls -d /srv/*.ferry-incoming-* /srv/*.ferry-replaced-* 2>/dev/null || true'])).stdout).trim();
      expect(staging, host).toBe('');
      const temp = String((await execa('sh', ['-c', 'ls -d /tmp/ferry-cpuinfo-* 2>/dev/null || true'])).stdout).trim();
      expect(temp).toBe('');
    }
  });
});
