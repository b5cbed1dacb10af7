// A stand-in terminal for the renderer's tests: it keeps what was written and plays it back as a
// screen, understanding what the live lines use (\r, \n, cursor up, clear to the end).
import type { Output } from '../../coordinator/output.ts';

export function fakeTerminal(columns = 200) {
  let raw = '';
  const io: Output = {
    json: false,
    out: (text) => (raw += `${text}\n`),
    err: (text) => (raw += `${text}\n`),
    terminal: { write: (text) => (raw += text), columns: () => columns },
  };
  return { io, raw: () => raw, screen: () => playBack(raw) };
}

/** The lines a terminal shows after `raw` (no scrolling limit); a trailing empty line is dropped. */
export function playBack(raw: string): string[] {
  const lines: string[] = [''];
  let row = 0;
  let col = 0;
  for (let i = 0; i < raw.length; i += 1) {
    const ch = raw[i] as string;
    if (ch === '\x1b') {
      const match = /^\[(\d*)([A-Za-z])/.exec(raw.slice(i + 1));
      if (!match) throw new Error(`unknown escape at ${i}: ${JSON.stringify(raw.slice(i, i + 8))}`);
      const [sequence, count, op] = match;
      const all = `\x1b${sequence}`;
      if (op === 'A') row = Math.max(0, row - Number(count || 1));
      else if (op === 'J' && (count || '0') === '0') {
        lines[row] = (lines[row] ?? '').slice(0, col);
        lines.length = row + 1;
      } else if (op === 'K') lines[row] = (lines[row] ?? '').slice(0, col);
      else throw new Error(`unexpected escape ${JSON.stringify(all)}`);
      i += all.length - 1;
    } else if (ch === '\r') col = 0;
    else if (ch === '\n') {
      row += 1;
      col = 0;
      lines[row] ??= '';
    } else {
      const line = (lines[row] ?? '').padEnd(col);
      lines[row] = line.slice(0, col) + ch + line.slice(col + 1);
      col += 1;
    }
  }
  return lines.at(-1) === '' ? lines.slice(0, -1) : lines;
}
