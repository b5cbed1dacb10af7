import { defineConfig } from 'vitest/config';

// Three projects: unit tests (fast, no root needed beyond a fake podman), e2e tests on one real
// lab (network namespaces, podman, CRIU) brought up once for the whole run, and e2e tests that
// bring up labs of their own. The projects run side by side; the files of each, one at a time.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/e2e/**'],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/*.test.ts'],
          globalSetup: ['test/e2e/lab-setup.ts'],
          testTimeout: 240_000,
          hookTimeout: 300_000,
          // One lab, one set of hosts: the e2e files share it and must not run at once.
          fileParallelism: false,
          sequence: { concurrent: false },
        },
      },
      {
        // Files that bring up labs of their own (an SSH-only lab, a second site, three hosts):
        // one at a time, beside the shared lab's files, with no shared lab of their own to wait for.
        test: {
          name: 'e2e-own-lab',
          include: ['test/e2e/own-lab/*.test.ts'],
          testTimeout: 240_000,
          hookTimeout: 900_000,
          fileParallelism: false,
          sequence: { concurrent: false },
        },
      },
    ],
  },
});
