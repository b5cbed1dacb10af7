import { describe, expect, it } from 'vitest';
import { FerryError } from '../../../common/errors.ts';
import { whileUnreachable } from '../../../coordinator/migration/retry.ts';

/** A call that fails with each of `failures` in turn, then answers "ok"; counts its attempts. */
function calls(failures: FerryError[]) {
  const state = { attempts: 0 };
  const call = async () => {
    const failure = failures[state.attempts];
    state.attempts += 1;
    if (failure) throw failure;
    return 'ok';
  };
  return { state, call };
}

const unreachable = () => new FerryError('AGENT_UNREACHABLE', 'hostB does not answer');

describe('the coordinator asks an agent again only while it is out of reach', () => {
  it('an agent that comes back answers the call asked again', async () => {
    const { state, call } = calls([unreachable(), unreachable()]);
    await expect(whileUnreachable(call, { retries: 5, budgetMs: 10_000 })).resolves.toBe('ok');
    expect(state.attempts).toBe(3);
  });

  it('any other answer is final at once', async () => {
    const { state, call } = calls([new FerryError('RESTORE_FAILED', 'podman said no')]);
    await expect(whileUnreachable(call, { retries: 5, budgetMs: 10_000 })).rejects.toMatchObject({ code: 'RESTORE_FAILED' });
    expect(state.attempts).toBe(1);
  });

  it('an agent out of reach for longer than the budget is the answer, however many retries are left', async () => {
    const { state, call } = calls(Array.from({ length: 50 }, unreachable));
    await expect(whileUnreachable(call, { retries: Number.POSITIVE_INFINITY, budgetMs: 600 })).rejects.toMatchObject({ code: 'AGENT_UNREACHABLE' });
    // 250 ms, then 500 ms of waiting: the third failure is past 600 ms.
    expect(state.attempts).toBe(3);
  });

  it('no retries: asked once', async () => {
    const { state, call } = calls([unreachable()]);
    await expect(whileUnreachable(call, { retries: 0, budgetMs: 10_000 })).rejects.toMatchObject({ code: 'AGENT_UNREACHABLE' });
    expect(state.attempts).toBe(1);
  });

  it('a cancel stops the waiting', async () => {
    const { state, call } = calls(Array.from({ length: 50 }, unreachable));
    const stop = new AbortController();
    setTimeout(() => stop.abort(new FerryError('CANCELLED', 'stopped')), 100);
    await expect(whileUnreachable(call, { retries: 20, budgetMs: 60_000, signal: stop.signal })).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(state.attempts).toBe(1);
  });
});
