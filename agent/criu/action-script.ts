// Ferry's CRIU action script. CRIU runs it at each stage of a dump that runc drives (runc.conf's
// `action-script` line, see config.ts); it acts only at post-dump, and only for a container whose
// directory holds Ferry's request (source/pages.ts): then it moves CRIU's memory pages out of the
// checkpoint directory, so that podman's export, which tars that directory whole, leaves them out.
// The source has been sending them while CRIU wrote them; the destination puts them back into
// the archive it feeds podman's import, and a rollback here moves them back before restoring.
// At post-dump the images are written and closed and the processes still frozen: a script that
// fails makes CRIU resume them and the checkpoint fail, which Ferry rolls back as any other.
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The script's name, beside CRIU's config files. */
export const ACTION_SCRIPT = 'ferry-criu-action';
/** In the container's directory (podman's userdata, the checkpoint directory's parent). */
export const PAGES_REQUEST = 'ferry-pages.request';
export const PAGES_ASIDE = 'ferry-pages';
/** Written last into PAGES_ASIDE: the pages are all there, whole. */
export const PAGES_DONE = '.done';
/** A pages image's name, as CRIU writes them: pages-<number>.img. */
export const PAGES_NAME = /^pages-(\d+)\.img$/;

const SCRIPT = `#!/bin/sh
# Written by the Ferry agent (agent/criu/action-script.ts); rewritten when it starts.
[ "$CRTOOLS_SCRIPT_ACTION" = post-dump ] || exit 0
images=$(readlink -f "$CRTOOLS_IMAGE_DIR") || exit 0
userdata=$(dirname "$images")
[ -f "$userdata/${PAGES_REQUEST}" ] || exit 0
aside="$userdata/${PAGES_ASIDE}"
mkdir -p "$aside" || exit 1
for page in "$images"/pages-*.img; do
  [ -e "$page" ] || continue
  mv "$page" "$aside/" || exit 1
done
: > "$aside/${PAGES_DONE}" || exit 1
exit 0
`;

/** Writes the script into `dir` unless it is there already; returns its path. */
export async function installActionScript(dir: string): Promise<string> {
  const path = join(dir, ACTION_SCRIPT);
  const current = await readFile(path, 'utf8').catch(() => undefined);
  if (current !== SCRIPT) {
    await mkdir(dir, { recursive: true });
    // Renamed into place: a CRIU running the old one at this moment reads a whole file either way.
    await writeFile(`${path}.next`, SCRIPT, { mode: 0o755 });
    await chmod(`${path}.next`, 0o755);
    await rename(`${path}.next`, path);
  }
  return path;
}
