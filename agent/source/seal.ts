// When the destination may hold everything it needs to restore: the archive and, when they travel
// beside it, the memory pages. Each stream comes here with its last bytes sent and its END not
// yet written; once every stream has, the migration is sealed in the journal, and only then do
// the ENDs go. From then on the source does not resume its container without the destination's
// word that it holds no copy. A stream that turns out not to be needed (pages that stayed in the
// archive) leaves instead. Until every stream has come, the destination cannot restore, and the
// source may still resume on its own.
export class Seal {
  readonly #waiting = new Set<string>();
  readonly #seal: () => Promise<void>;
  #sealed: Promise<void> | undefined;
  #release!: () => void;
  readonly #all: Promise<void>;

  constructor(streams: string[], seal: () => Promise<void>) {
    for (const stream of streams) this.#waiting.add(stream);
    this.#seal = seal;
    this.#all = new Promise((resolve) => (this.#release = resolve));
    if (!this.#waiting.size) this.#release();
  }

  /** `stream` sent its last bytes; resolves once the migration is sealed (every stream came). */
  async arrive(stream: string): Promise<void> {
    this.#waiting.delete(stream);
    if (!this.#waiting.size) this.#release();
    await this.#all;
    this.#sealed ??= this.#seal();
    await this.#sealed;
  }

  /** `stream` will not come (its bytes travel another way). */
  leave(stream: string): void {
    this.#waiting.delete(stream);
    if (!this.#waiting.size) this.#release();
  }
}
