// Lines that stay at the bottom of a terminal and are rewritten in place (transfer progress, an
// evacuation's count), with ordinary lines printed above them. The cursor is moved back up over
// the live lines, they are cleared, and drawn again; each is cut to the terminal's width, since a
// line that wrapped would throw off the count.

/** A terminal on stdout: raw writes and its width. */
export interface Terminal {
  write: (raw: string) => void;
  columns: () => number;
}

const CLEAR_BELOW = '\x1b[0J';
const up = (lines: number) => (lines > 0 ? `\x1b[${lines}A` : '');

export class LiveArea {
  readonly #terminal: Terminal;
  readonly #intervalMs: number;
  #lines: string[] = [];
  /** How many lines are on the screen now. */
  #drawn = 0;
  #drawnAt = Number.NEGATIVE_INFINITY;
  #timer: NodeJS.Timeout | undefined;

  /** Redraws at most once per `intervalMs` for updates; lines printed above redraw at once. */
  constructor(terminal: Terminal, intervalMs = 100) {
    this.#terminal = terminal;
    this.#intervalMs = intervalMs;
  }

  /** Replaces the live lines (redrawn now, or within the interval). */
  update(lines: readonly string[]): void {
    this.#lines = [...lines];
    const wait = this.#drawnAt + this.#intervalMs - performance.now();
    if (wait <= 0) this.#redraw();
    else this.#timer ??= setTimeout(() => this.#redraw(), wait).unref();
  }

  /** Runs `print` (which writes whole lines to stdout or stderr) above the live lines. */
  above(print: () => void): void {
    this.#erase();
    print();
    this.#draw();
  }

  /** Removes the live lines for good (the command is done). */
  close(): void {
    this.#lines = [];
    this.#erase();
  }

  #redraw(): void {
    this.#erase();
    this.#draw();
  }

  #erase(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#drawn) this.#terminal.write(`\r${up(this.#drawn)}${CLEAR_BELOW}`);
    this.#drawn = 0;
  }

  #draw(): void {
    if (!this.#lines.length) return;
    const width = Math.max(20, this.#terminal.columns()) - 1;
    this.#terminal.write(this.#lines.map((line) => `${fit(line, width)}\n`).join(''));
    this.#drawn = this.#lines.length;
    this.#drawnAt = performance.now();
  }
}

/** One row of the terminal: Ferry's lines are ASCII but for '…', so a character is a column. */
function fit(line: string, width: number): string {
  const flat = line.replace(/[\r\n\t]+/g, ' ');
  return flat.length > width ? `${flat.slice(0, width - 1)}…` : flat;
}
