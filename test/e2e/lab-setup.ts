// vitest globalSetup for the e2e project: one real lab for the whole run, torn down at the end
// even when tests fail (FERRY_E2E_KEEP=1 keeps it, with its agents' logs, for a look afterwards).
// A lab left over by a crashed earlier run is removed first.
import { execa } from 'execa';
import { labEnv, ROOT } from './lab.ts';

const lab = (args: string[]) =>
  execa(`${ROOT}scripts/lab`, args, { env: labEnv, stdout: 'inherit', stderr: 'inherit', timeout: 600_000 });

/**
 * FERRY_E2E_SHARED_LAB=0: no shared lab, for a run of files that bring up labs of their own
 * (sites.test.ts); it also leaves alone a shared lab that another run is using.
 */
const shared = process.env.FERRY_E2E_SHARED_LAB !== '0';

export async function setup(): Promise<void> {
  if (!shared) return;
  await lab(['down']);
  await lab(['up', '--hosts', '2']);
}

export async function teardown(): Promise<void> {
  if (!shared) return;
  if (process.env.FERRY_E2E_KEEP === '1') {
    process.stderr.write(`FERRY_E2E_KEEP=1: lab ${labEnv.FERRY_LAB} kept; remove it with FERRY_LAB=${labEnv.FERRY_LAB} scripts/lab down\n`);
    return;
  }
  await lab(['down']);
}
