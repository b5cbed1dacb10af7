// What `ferry agent install` copies to a host: the project's runtime files and the npm packages
// the agent runs with (the lock file's non-dev packages, Node itself among them), so the host
// needs no registry. A stamp over every file's path, size and mtime tells whether the host
// already has this very bundle.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

/** The project's own files an agent host needs, relative to the project root. */
const RUNTIME = ['agent', 'bin', 'common', 'coordinator', 'proto', 'scripts', 'packaging', 'docs', 'package.json', 'package-lock.json', 'README.md', 'tsconfig.json'];

export interface Bundle {
  root: string;
  /** Paths relative to root, files and symlinks, sorted. */
  files: string[];
  stamp: string;
}

function walk(root: string, path: string, out: string[]): void {
  const full = join(root, path);
  const stat = statSync(full, { throwIfNoEntry: false });
  if (!stat) return;
  if (stat.isDirectory()) {
    for (const entry of readdirSync(full)) walk(root, join(path, entry), out);
  } else {
    out.push(path);
  }
}

/** The lock file's packages that are not dev-only and are installed here. */
function runtimePackages(root: string): string[] {
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages?: Record<string, { dev?: boolean }> };
  return Object.entries(lock.packages ?? {})
    .filter(([path, entry]) => path.startsWith('node_modules/') && !entry.dev && existsSync(join(root, path)))
    .map(([path]) => path);
}

export function projectBundle(root: string): Bundle {
  const files: string[] = [];
  for (const path of [...RUNTIME, ...runtimePackages(root)]) walk(root, path, files);
  // Nested packages are walked with their parent too: each file once.
  const unique = [...new Set(files.map((f) => relative(root, join(root, f))))].sort();
  const hash = createHash('sha256');
  for (const file of unique) {
    const stat = statSync(join(root, file));
    hash.update(`${file}\0${stat.size}\0${Math.trunc(stat.mtimeMs)}\n`);
  }
  return { root, files: unique, stamp: hash.digest('hex').slice(0, 32) };
}
