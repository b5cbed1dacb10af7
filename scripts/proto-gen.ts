// npm run gen: TypeScript types for proto/*.proto, as proto-loader-gen-types writes them, with
// one change. proto/gen is CommonJS (its imports carry no file extensions), where this project's
// verbatimModuleSyntax refuses the value that the generator writes for each enum
// (`export const Role = {...} as const`). The code only ever needs the enum's types, so the value
// is replaced by the union of its names.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const root = new URL('..', import.meta.url).pathname;
// --out DIR: somewhere else than proto/gen (the test that proto/gen is up to date uses it).
const { values } = parseArgs({ options: { out: { type: 'string' } } });
const out = values.out ? resolve(values.out) : join(root, 'proto/gen');
const protos = readdirSync(join(root, 'proto')).filter((f) => f.endsWith('.proto')).map((f) => join('proto', f));
execFileSync(
  join(root, 'node_modules/.bin/proto-loader-gen-types'),
  ['--longs=Number', '--enums=String', '--defaults', '--oneofs', '--grpcLib=@grpc/grpc-js', `--outDir=${out}`, ...protos],
  { cwd: root, stdio: 'inherit' },
);

const ENUM = /export const (\w+) = \{\n([\s\S]*?)\} as const;\n/;
for (const dir of readdirSync(out, { recursive: true, withFileTypes: true })) {
  if (!dir.isFile() || !dir.name.endsWith('.ts')) continue;
  const path = join(dir.parentPath, dir.name);
  const text = readFileSync(path, 'utf8');
  const match = ENUM.exec(text);
  if (!match) continue;
  const [whole, name, body] = match as unknown as [string, string, string];
  const names = [...body.matchAll(/^\s*(\w+): '\w+',$/gm)].map((m) => `'${m[1]}'`);
  const fixed = text
    .replace(whole, '')
    .replace(`export type ${name}__Output = typeof ${name}[keyof typeof ${name}]`, `export type ${name}__Output = ${names.join(' | ')}`);
  writeFileSync(path, fixed);
}
