// CRIU options that let real databases checkpoint, kept in the files every runtime reads
// (/etc/criu/default.conf for criu itself, runc.conf for runc). Other lines are left as they are.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface CriuSettings {
  /** Largest deleted-but-open file CRIU will carry (its default, 1 MiB, fails most databases). */
  ghostLimit: number;
  /** Drop half-open connections instead of failing the dump of a busy server. */
  skipInFlight: boolean;
}

export const DEFAULT_CRIU_SETTINGS: CriuSettings = { ghostLimit: 40_000_000, skipInFlight: true };

/** The config text with our options set, everything else kept. */
export function withSettings(text: string, settings: CriuSettings): string {
  const kept = text.split('\n').filter((line) => !/^\s*(ghost-limit|skip-in-flight)\b/.test(line) && line !== '');
  const ours = [`ghost-limit ${settings.ghostLimit}`, ...(settings.skipInFlight ? ['skip-in-flight'] : [])];
  return `${[...kept, ...ours].join('\n')}\n`;
}

/** Writes the settings into each config file that does not have them yet; returns the files changed. */
export async function ensureCriuConfig(settings: CriuSettings, dir = '/etc/criu'): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const changed: string[] = [];
  for (const name of ['default.conf', 'runc.conf']) {
    const path = join(dir, name);
    const before = await readFile(path, 'utf8').catch(() => '');
    const after = withSettings(before, settings);
    if (after !== before) {
      await writeFile(path, after);
      changed.push(path);
    }
  }
  return changed;
}
