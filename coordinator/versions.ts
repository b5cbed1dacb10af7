// Which podman versions Ferry moves containers between, and the preflight line that shows both
// ends' podman, runtime and CRIU. Measured on lab hosts (docs/hosts.md): podman 4.3.1 (Debian 12)
// and 5.8.6 (Debian sid) take each other's checkpoints in both directions, the archive's layout
// being the same (config.dump, spec.dump, network.status, checkpoint/; podman 4.3 ignores the keys
// 5 adds to config.dump). Older podman lacks what Ferry relies on (--print-stats, the export's
// layout, --file-locks on restore); a newer major is unmeasured: both are refused, naming the versions.
import { FerryError } from '../common/errors.ts';
import type { InfoReply__Output as InfoReply } from '../proto/gen/ferry/v1/InfoReply.ts';

/** The podman versions Ferry runs on: from this one (inclusive) ... */
export const PODMAN_OLDEST = [4, 3] as const;
/** ... to the major before this one. */
export const PODMAN_NEXT_MAJOR = 6;

/** [major, minor] of "5.8.6", "4.3.1-dev"; undefined when it is not a version. */
export function majorMinor(version: string | undefined): [number, number] | undefined {
  const match = /^(\d+)\.(\d+)/.exec((version ?? '').trim());
  return match ? [Number(match[1]), Number(match[2])] : undefined;
}

/** Why Ferry will not run on this podman version; undefined when it will. */
export function unsupportedPodman(version: string): string | undefined {
  const v = majorMinor(version);
  if (!v) return `podman says its version is "${version}", which Ferry cannot read`;
  const [major, minor] = v;
  if (major < PODMAN_OLDEST[0] || (major === PODMAN_OLDEST[0] && minor < PODMAN_OLDEST[1])) {
    return `podman ${version} is older than ${PODMAN_OLDEST.join('.')}, the oldest whose checkpoint export and restore Ferry knows`;
  }
  if (major >= PODMAN_NEXT_MAJOR) return `podman ${version} is a major version Ferry was not measured with (it knows 4.3 to 5.x)`;
  return undefined;
}

function describe(host: string, info: InfoReply): string {
  return `${host} podman ${info.podmanVersion || '?'}, ${info.ociRuntime || 'runtime'} ${info.runcVersion || '?'}, criu ${info.criuVersion || '?'}`;
}

/** The preflight line with both ends' versions; throws PODMAN_UNSUPPORTED naming both when either end is outside what Ferry knows. */
export function versionsCheck(from: string, source: InfoReply, to: string, destination: InfoReply): { name: string; ok: boolean; detail: string } {
  const detail = `${describe(from, source)} -> ${describe(to, destination)}`;
  for (const [host, info] of [[from, source], [to, destination]] as const) {
    const why = unsupportedPodman(info.podmanVersion);
    if (why) {
      throw new FerryError('PODMAN_UNSUPPORTED', `${why} (on ${host}); ${detail}`, {
        phase: 'preflight',
        host,
        hint: `Ferry moves containers between podman ${PODMAN_OLDEST.join('.')} and 5.x, in either direction; upgrade podman on ${host}.`,
      });
    }
  }
  return { name: 'versions', ok: true, detail };
}
