// What this host is, asked once per agent run: podman's, runc's and CRIU's versions and the
// runtime (`criu check` takes a second), and the CPU's features as CRIU records them. Neither
// changes while the agent runs; a failed ask is not kept, so the next one tries again.
import type { Podman } from './podman/podman.ts';
import { hostInfo, type HostInfo } from './podman/info.ts';
import { cpuinfoDump } from './criu/cpuinfo.ts';

export class HostFacts {
  readonly #podman: Podman;
  #versions: Promise<HostInfo> | undefined;
  #cpuinfo: Promise<Buffer> | undefined;

  constructor(podman: Podman) {
    this.#podman = podman;
  }

  versions(): Promise<HostInfo> {
    this.#versions ??= hostInfo(this.#podman).catch((error: unknown) => {
      this.#versions = undefined;
      throw error;
    });
    return this.#versions;
  }

  /** CRIU's image of this CPU's features (empty where CRIU cannot make one): the destination compares. */
  cpuinfo(): Promise<Buffer> {
    this.#cpuinfo ??= cpuinfoDump().catch(() => Buffer.alloc(0));
    return this.#cpuinfo;
  }
}
