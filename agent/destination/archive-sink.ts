// Where the checkpoint archive's bytes go on the destination: a 0600 file written in batches,
// always, so a broken stream resumes from the last byte kept and a full disk stops the transfer.
// Once podman's import has read all of the file, it also takes each batch from memory right
// after the batch is on disk, instead of the feeder reading the file back: on a 2-core host that
// read is CPU podman's extraction needs while the container is frozen.
import type { FileHandle } from 'node:fs/promises';
import { FerryError } from '../../common/errors.ts';
import { FileSink } from '../transfer/targets.ts';
import type { Inbox, Relay } from './inbox.ts';

/** The archive's file sink: the file first, then podman's import once it caught up with the file. */
export class ArchiveSink extends FileSink {
  readonly #inbox: Inbox;
  #relay: Relay | undefined;

  constructor(file: FileHandle, inbox: Inbox, position: number) {
    super(file, position, (written) => inbox.wrote(written));
    this.#inbox = inbox;
  }

  /**
   * The file first, then podman: podman never holds a byte the file does not, so whatever breaks,
   * the file is where the import (and a resumed stream) carry on from. The relay is taken up only
   * where podman has read the whole file; it cannot be in the middle of a read then.
   */
  protected override async store(parts: Buffer[]): Promise<void> {
    const offer = this.#inbox.relay;
    if (!this.#relay && offer && offer.position === this.position) {
      this.#relay = offer;
      offer.attach();
    }
    await super.store(parts);
    // Let go of meanwhile (the stream stopped): the feeder reads these bytes from the file itself.
    const relay = this.#relay;
    await relay?.take(parts).catch((error: unknown) => {
      this.#relay = undefined;
      throw new FerryError('TRANSFER_FAILED', `podman's import stopped taking the archive: ${FerryError.from(error).message}`, { phase: 'restore', cause: error });
    });
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // However the stream ended, podman reads on from the file: a resumed stream's sink may take
    // the relay up again where the file ends.
    this.#relay?.detach();
    this.#relay = undefined;
    super._destroy(error, callback);
  }
}
