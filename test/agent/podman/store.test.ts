import { describe, expect, it } from 'vitest';
import { parseStore } from '../../../agent/podman/info.ts';

describe("podman info's storage", () => {
  it('reads the last line: podman 5 says first, once, that it moved the old database', () => {
    // What the first podman 5 command over a podman 4.3 store printed on a lab host.
    const said = 'Old database has been renamed to /var/lib/containers/storage/libpod/bolt_state.db-old and will no longer be used\n/var/lib/containers/storage overlay /run/containers/storage';
    expect(parseStore(said)).toEqual({ graphRoot: '/var/lib/containers/storage', driver: 'overlay', runRoot: '/run/containers/storage' });
  });

  it('refuses an answer that names no storage, rather than keep it', () => {
    expect(() => parseStore('Old database has been renamed\n')).toThrow(/did not say where its storage is/);
  });
});
