// The seal: the journal says "sealed" once every stream the restore needs has sent its last bytes,
// not before, and once; a stream whose bytes travel another way leaves instead of coming.
import { describe, expect, it } from 'vitest';
import { Seal } from '../../../agent/source/seal.ts';

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('the seal', () => {
  it('seals once, when the last stream comes, and lets every stream on only then', async () => {
    let sealed = 0;
    const seal = new Seal(['checkpoint', 'pages'], async () => void (sealed += 1));
    let archiveOn = false;
    const archive = seal.arrive('checkpoint').then(() => (archiveOn = true));
    await tick();
    expect(sealed).toBe(0);
    expect(archiveOn).toBe(false); // the archive's END waits: the pages are still on their way
    await seal.arrive('pages');
    await archive;
    expect(sealed).toBe(1);
    await seal.arrive('checkpoint'); // a resumed stream comes again: sealed already
    expect(sealed).toBe(1);
  });

  it('seals when the stream still missing leaves (the pages stayed in the archive)', async () => {
    let sealed = 0;
    const seal = new Seal(['checkpoint', 'pages'], async () => void (sealed += 1));
    const archive = seal.arrive('checkpoint');
    seal.leave('pages');
    await archive;
    expect(sealed).toBe(1);
  });
});
