// CRIU options that let real databases checkpoint, kept in the files every runtime reads
// (/etc/criu/default.conf for criu itself, runc.conf for runc), and, in runc.conf, Ferry's action
// script (action-script.ts). Other lines are left as they are.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ACTION_SCRIPT } from './action-script.ts';

export interface CriuSettings {
  /** Largest deleted-but-open file CRIU will carry (its default, 1 MiB, fails most databases). */
  ghostLimit: number;
  /** Drop half-open connections instead of failing the dump of a busy server. */
  skipInFlight: boolean;
  /** Ferry's action script, for dumps that runc drives (runc.conf only). */
  actionScript?: string | undefined;
}

export const DEFAULT_CRIU_SETTINGS: CriuSettings = { ghostLimit: 40_000_000, skipInFlight: true };

/** The config text with our options set, everything else kept. */
export function withSettings(text: string, settings: CriuSettings): string {
  // Another action script stays: CRIU runs every one it is given.
  const ours = (line: string) => /^\s*(ghost-limit|skip-in-flight)\b/.test(line) || new RegExp(`^\\s*action-script\\s+\\S*/${ACTION_SCRIPT}\\s*$`).test(line);
  const kept = text.split('\n').filter((line) => !ours(line) && line !== '');
  const set = [
    `ghost-limit ${settings.ghostLimit}`,
    ...(settings.skipInFlight ? ['skip-in-flight'] : []),
    ...(settings.actionScript ? [`action-script ${settings.actionScript}`] : []),
  ];
  return `${[...kept, ...set].join('\n')}\n`;
}

/** Writes the settings into each config file that does not have them yet; returns the files changed. */
export async function ensureCriuConfig(settings: CriuSettings, dir = '/etc/criu'): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const changed: string[] = [];
  for (const name of ['default.conf', 'runc.conf']) {
    const path = join(dir, name);
    const before = await readFile(path, 'utf8').catch(() => '');
    const after = withSettings(before, name === 'runc.conf' ? settings : { ...settings, actionScript: undefined });
    if (after !== before) {
      await writeFile(path, after);
      changed.push(path);
    }
  }
  return changed;
}
