// ferry migrate (and ferry preflight, a migration that stops after its checks).
import { FerryError } from '../../common/errors.ts';
import type { Dialer } from '../../common/dial.ts';
import type { HostEntry, Inventory } from '../inventory.ts';
import { migrate } from '../migration/migrate.ts';
import { endpoints, migrationSettings, type Values } from '../options.ts';
import { exitCode, interruptible, renderer, report, usage, type Output } from '../output.ts';

export async function runMigrate(inventory: Inventory, dialer: Dialer, values: Values, rest: string[], io: Output): Promise<number> {
  if (rest.length !== 1) usage(rest.length ? `one container at a time, got ${rest.length}: ${rest.join(' ')}` : 'which container? ferry migrate --from A --to B CONTAINER');
  const { from, to } = endpoints(inventory, values);
  if (to.length !== 1) usage('migrate takes one --to host');
  const settings = migrationSettings(values);
  const render = renderer(io);
  const interrupt = interruptible(render.io);
  try {
    await migrate({ from, to: to[0] as HostEntry, container: rest[0] as string, ...settings, signal: interrupt.signal, dialer }, render);
    return 0;
  } catch (error) {
    const failure = FerryError.from(error);
    // The 'failed' event already showed the error; only a rollback failure needs saying again.
    if (failure.code === 'ROLLBACK_FAILED' || !render.sawFailure()) return report(failure, io);
    return exitCode(failure);
  } finally {
    interrupt.dispose();
    render.close();
  }
}
