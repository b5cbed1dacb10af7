// The container's image, for a destination that lacks it: `podman image save` streamed as it
// is written, while the container still runs.
import type { ContainerInfo__Output as ContainerInfo } from '../../proto/gen/ferry/v1/ContainerInfo.ts';
import type { Podman } from '../podman/podman.ts';
import type { Emit, Sender } from './sender.ts';

export async function sendImage(sender: Sender, podman: Podman, container: ContainerInfo, emit: Emit): Promise<void> {
  const started = performance.now();
  // docker-archive keeps the image's name and its ID (the config digest) through the load.
  const image = container.imageName || container.imageId;
  const sent = await sender.again('image', async () => {
    const save = podman.spawn(['image', 'save', '--quiet', '--format', 'docker-archive', image], { signal: sender.halt });
    return sender.sendOnce('image', 0, untilSaved(save)).catch((error: unknown) => {
      save.kill();
      throw error;
    });
  });
  emit({ imageSent: { image, bytes: sent.bytes, ms: Math.round(performance.now() - started) } });
}

/**
 * podman save's output, ending only once podman exited well: a save that failed half-way must
 * not end the stream (its END would make a cut archive look whole to the destination's load).
 */
async function* untilSaved(save: ReturnType<Podman['spawn']>): AsyncGenerator<Buffer> {
  for await (const chunk of save.stdout as AsyncIterable<Buffer>) yield chunk;
  await save; // rejects when podman failed
}
