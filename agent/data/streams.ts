// A writer that returned false waits for room, or for the stream's end: a stream destroyed
// mid-way (a refused entry, a failed send) never drains, and the writer must not wait forever.
interface Emitter {
  on(event: 'drain' | 'close', listener: () => void): unknown;
  off(event: 'drain' | 'close', listener: () => void): unknown;
}

export function roomOrClose(stream: Emitter): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}
