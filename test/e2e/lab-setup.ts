// vitest globalSetup for the e2e projects: one real lab for the whole run, torn down at the end
// even when tests fail (FERRY_E2E_KEEP=1 keeps it, with its agents' logs, for a look afterwards).
// A lab left over by a crashed earlier run is removed first.
import { execa } from 'execa';
import { labEnv, ROOT } from './lab.ts';

const lab = (args: string[]) =>
  execa(`${ROOT}scripts/lab`, args, { env: labEnv, stdout: 'inherit', stderr: 'inherit', timeout: 600_000 });

/**
 * FERRY_LAB_PODMAN=5: the lab's hosts run podman 5 (scripts/lab up --podman HOST=5) instead of
 * the machine's 4.3; scripts/test runs the fault tests so.
 */
const podman = process.env.FERRY_LAB_PODMAN === '5' ? ['--podman', 'hostA=5', '--podman', 'hostB=5'] : [];

export async function setup(): Promise<void> {
  await lab(['down']);
  await lab(['up', '--hosts', '2', ...podman]);
}

export async function teardown(): Promise<void> {
  if (process.env.FERRY_E2E_KEEP === '1') {
    process.stderr.write(`FERRY_E2E_KEEP=1: lab ${labEnv.FERRY_LAB} kept; remove it with FERRY_LAB=${labEnv.FERRY_LAB} scripts/lab down\n`);
    return;
  }
  await lab(['down']);
}
