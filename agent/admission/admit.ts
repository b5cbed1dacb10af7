// The admission check as the destination makes it: this host's policy, read afresh, against a
// container (judge.ts); POLICY_DENIED when it may not run here.
import { podmanStore } from '../podman/info.ts';
import type { HostContext } from '../context.ts';
import { denied, judge, type Candidate } from './judge.ts';
import { loadPolicy } from './policy.ts';

export async function admit(ctx: Pick<HostContext, 'host' | 'podman' | 'stateDir' | 'policyPath'>, candidate: Candidate, phase: 'preflight' | 'restore'): Promise<void> {
  const policy = await loadPolicy(ctx.policyPath);
  const store = await podmanStore(ctx.podman);
  const violations = judge(candidate, policy, { graphRoot: store.graphRoot, runRoot: store.runRoot, stateDir: ctx.stateDir });
  if (violations.length) throw denied(candidate, violations, { host: ctx.host, phase, policyPath: ctx.policyPath });
}
