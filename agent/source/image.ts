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
    const [result] = await Promise.all([
      sender.sendOnce('image', 0, save.stdout as AsyncIterable<Buffer>).catch((error: unknown) => {
        save.kill();
        throw error;
      }),
      save,
    ]);
    return result;
  });
  emit({ imageSent: { image, bytes: sent.bytes, ms: Math.round(performance.now() - started) } });
}
