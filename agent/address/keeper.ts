// Keeps each service address where its container runs: held and announced for every running
// container of this host that declares one (checked every few seconds, and announced again when
// the agent starts), given up when the container stops. Containers in a migration here are left
// to the migration, which moves their address itself.
import { FerryError } from '../../common/errors.ts';
import { SERVICE_ADDRESS_LABEL, serviceAddressOf } from '../../common/service-address.ts';
import type { Journal } from '../journal.ts';
import type { Logger } from '../log.ts';
import { Periodic } from '../periodic.ts';
import type { Podman } from '../podman/podman.ts';
import { StateStamp } from '../podman/state-stamp.ts';
import { addressState, announce, release, take } from './ip.ts';

export interface KeeperOptions {
  podman: Podman;
  /** This host's own address (its agent's): the address goes on the interface that carries it. */
  hostIp: string;
  journal: Journal;
  log: Logger;
  intervalMs?: number;
}

interface Labelled {
  id: string;
  name: string;
  running: boolean;
  address: string;
}

/** However quiet podman is, the addresses are looked at this often. */
const FULL_ROUND_MS = 30_000;

export class AddressKeeper {
  readonly #options: KeeperOptions;
  readonly #log: Logger;
  /** Addresses this agent holds for a container; one whose container is gone from this host is released. */
  readonly #held = new Set<string>();
  readonly #complained = new Set<string>();
  readonly #periodic: Periodic;
  /** podman's state as of the last round: a round with nothing changed looks no further (podman/state-stamp.ts). */
  readonly #stamp: StateStamp;
  /** When the last full round ran: one runs every FULL_ROUND_MS whatever the stamp says. */
  #lastFull = 0;
  #first = true;

  constructor(options: KeeperOptions) {
    this.#options = options;
    this.#log = options.log.child({ component: 'addresses' });
    this.#stamp = new StateStamp(options.podman);
    this.#periodic = new Periodic(
      () =>
        this.#keepIfChanged().catch((error: unknown) => {
          this.#stamp.reset(); // looked at again next round
          this.#log.warn({ err: FerryError.from(error).message }, 'could not check the service addresses');
        }),
      options.intervalMs ?? 2_000,
    );
  }

  start(): void {
    this.#periodic.start();
  }

  stop(): void {
    this.#periodic.stop();
  }

  /** One round now, unless one is under way. */
  tick(): Promise<void> {
    return this.#periodic.run();
  }

  /**
   * A round looks at the containers only when podman's state changed, or a migration here began
   * or ended (its containers are the migration's meanwhile), or FULL_ROUND_MS passed: an address
   * someone removed by hand comes back within that.
   */
  async #keepIfChanged(): Promise<void> {
    const moving = this.#options.journal.active().map((r) => r.id).join(',');
    const due = Date.now() - this.#lastFull >= FULL_ROUND_MS;
    if (!(await this.#stamp.changed(moving)) && !due) return;
    this.#lastFull = Date.now();
    await this.#keep();
  }

  async #keep(): Promise<void> {
    const containers = await this.#labelled();
    // Nothing declares an address and nothing is held: no need to look at the interfaces at all.
    if (!containers.length && !this.#held.size) {
      this.#first = false;
      return;
    }
    const moving = new Set(this.#options.journal.active().flatMap((r) => [r.containerId, r.container]));
    // One look at the interfaces per round, not one per address.
    const { iface, held } = await addressState(this.#options.hostIp);
    const wanted = new Set<string>();
    for (const c of containers) {
      if (moving.has(c.id) || moving.has(c.name)) {
        wanted.add(c.address); // the migration decides where it goes
        continue;
      }
      if (c.running) {
        wanted.add(c.address);
        if (!held.has(c.address)) {
          await take(c.address, iface);
          held.add(c.address);
          this.#log.info({ container: c.name, address: c.address, iface }, 'holding the service address');
        } else if (this.#first) {
          await announce(c.address, iface); // the agent (re)started: say where the address is
        }
        this.#held.add(c.address);
      }
    }
    for (const address of [...this.#held, ...containers.filter((c) => !c.running).map((c) => c.address)]) {
      if (wanted.has(address) || !held.has(address)) {
        if (!wanted.has(address)) this.#held.delete(address);
        continue;
      }
      await release(address, iface);
      held.delete(address);
      this.#held.delete(address);
      this.#log.info({ address }, 'released the service address: its container no longer runs here');
    }
    this.#first = false;
  }

  /** This host's containers that declare a service address. */
  async #labelled(): Promise<Labelled[]> {
    const raw = await this.#options.podman.runJson<Array<{ Id: string; Names?: string[]; State?: string; Labels?: Record<string, string> | null }> | null>(
      ['ps', '--all', '--filter', `label=${SERVICE_ADDRESS_LABEL}`, '--format', 'json'],
      { timeoutMs: 30_000 },
    );
    const found: Labelled[] = [];
    for (const c of raw ?? []) {
      const name = c.Names?.[0] ?? c.Id;
      try {
        const address = serviceAddressOf(c.Labels ?? {});
        if (address) found.push({ id: c.Id, name, running: c.State === 'running', address });
      } catch (error) {
        if (!this.#complained.has(c.Id)) this.#log.warn({ container: name, err: FerryError.from(error).message }, 'ignoring a malformed service address');
        this.#complained.add(c.Id);
      }
    }
    return found;
  }
}
