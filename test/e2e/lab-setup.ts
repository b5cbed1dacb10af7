// vitest globalSetup for the e2e project: one real lab for the whole run, torn down at the end
// even when tests fail (FERRY_E2E_KEEP=1 keeps it, with its agents' logs, for a look afterwards).
// A lab left over by a crashed earlier run is removed first.
import { execa } from 'execa';
import { labEnv, ROOT } from './lab.ts';

const lab = (args: string[]) =>
  execa(`${ROOT}scripts/lab`, args, { env: labEnv, stdout: 'inherit', stderr: 'inherit', timeout: 600_000 });

export async function setup(): Promise<void> {
  await lab(['down']);
  await lab(['up', '--hosts', '2']);
}

export async function teardown(): Promise<void> {
  if (process.env.FERRY_E2E_KEEP === '1') {
    process.stderr.write(`FERRY_E2E_KEEP=1: lab ${labEnv.FERRY_LAB} kept; remove it with FERRY_LAB=${labEnv.FERRY_LAB} scripts/lab down\n`);
    return;
  }
  await lab(['down']);
}
