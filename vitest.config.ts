import { defineConfig } from 'vitest/config';

// Two projects: unit tests (fast, no root needed beyond a fake podman) and e2e tests, which
// bring up a real lab (network namespaces, podman, CRIU) once for the whole run.
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
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['test/e2e/lab-setup.ts'],
          testTimeout: 240_000,
          hookTimeout: 300_000,
          // One lab, one set of hosts: the e2e files share it and must not run at once.
          fileParallelism: false,
          sequence: { concurrent: false },
        },
      },
    ],
  },
});
