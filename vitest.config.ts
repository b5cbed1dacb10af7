import { defineConfig } from 'vitest/config';

/**
 * The e2e files that run on a lab of their own process (project e2e-faults): those that kill
 * agents and cut links, the longest of the shared kind, so that neither process waits on the
 * other (settle.test.ts waits out the coordinator's 30 s of patience with an agent that is gone).
 */
const FAULTS = ['test/e2e/faults.test.ts', 'test/e2e/cut-off.test.ts', 'test/e2e/settle.test.ts'];

/**
 * Files with labs of their own that run in the shared lab's process (one file at a time, like
 * its own) rather than in e2e-own-lab's: that process was the longest (its files bring up six
 * labs), and these two touch nothing of the shared lab.
 */
const OWN_LAB_IN_MAIN = ['test/e2e/own-lab/sites.test.ts', 'test/e2e/own-lab/soak.test.ts'];

/** A project on one lab that its vitest process brings up (FERRY_LAB names it): its files share it, one at a time. */
const onOneLab = {
  globalSetup: ['test/e2e/lab-setup.ts'],
  testTimeout: 240_000,
  hookTimeout: 300_000,
  fileParallelism: false,
  sequence: { concurrent: false },
};

// Four projects: unit tests (fast, no root needed beyond a fake podman), e2e tests on one real
// lab (network namespaces, podman, CRIU) brought up once for the whole run, the fault tests
// (the longest files) on a lab of the same kind under another name, and e2e tests that bring up
// labs of their own. scripts/test runs them side by side; the files of each, one at a time.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/e2e/**'],
          // Each file's temporary folders, in one folder that goes when the file is done.
          setupFiles: ['test/unit-tmpdir.ts'],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/*.test.ts', ...OWN_LAB_IN_MAIN],
          exclude: [...FAULTS],
          // One lab, one set of hosts: the e2e files share it and must not run at once.
          ...onOneLab,
          // Room for the own labs' bring-up (a lab of three hosts) on a loaded machine.
          hookTimeout: 900_000,
        },
      },
      {
        // The same kind of lab as e2e's, brought up by its own process under the name in
        // FERRY_LAB (scripts/test gives it one), so that these run beside the shared lab's files.
        test: {
          name: 'e2e-faults',
          include: [...FAULTS],
          ...onOneLab,
        },
      },
      {
        // Files that bring up labs of their own (an SSH-only lab, a second site, three hosts):
        // one at a time, beside the shared lab's files, with no shared lab of their own to wait for.
        test: {
          name: 'e2e-own-lab',
          include: ['test/e2e/own-lab/*.test.ts'],
          exclude: [...OWN_LAB_IN_MAIN],
          testTimeout: 240_000,
          hookTimeout: 900_000,
          fileParallelism: false,
          sequence: { concurrent: false },
        },
      },
    ],
  },
});
