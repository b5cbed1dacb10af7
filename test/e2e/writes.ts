// A client that keeps writing while a migration runs, as the applications' own clients would: the
// writes it got an answer for are acknowledged, and an acknowledged write must never be lost.
import { setTimeout as sleep } from 'node:timers/promises';

export interface Written<T> {
  result: T;
  /** The numbers of the writes the server acknowledged, in order. */
  acked: number[];
  /** Writes that failed (the outage): the client retries with the next number. */
  failed: number;
}

/** Calls `write(1)`, `write(2)`, ... one after the other until `work` settles, and after it once more. */
export async function whileWriting<T>(write: (n: number) => Promise<unknown>, work: () => Promise<T>, pauseMs = 20): Promise<Written<T>> {
  const acked: number[] = [];
  let failed = 0;
  let next = 1;
  let done = false;
  const attempt = async () => {
    const n = next++;
    try {
      await write(n);
      acked.push(n);
    } catch {
      failed += 1;
    }
  };
  // A few writes before the move begins, so that some are surely in the checkpoint.
  for (let i = 0; i < 3; i += 1) await attempt();
  const writer = (async () => {
    while (!done) {
      await attempt();
      await sleep(pauseMs);
    }
  })();
  try {
    return { result: await work(), acked, failed };
  } finally {
    done = true;
    await writer;
  }
}
