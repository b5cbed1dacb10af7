// Checks on the fields of a request, shared by every RPC: a missing or oversized field, or a
// migration ID that could escape the state directory, is BAD_REQUEST before anything is touched.
import { FerryError } from '../common/errors.ts';
import { validMigrationId } from './journal.ts';

export function requireText(value: string | undefined, field: string): void {
  if (!value || typeof value !== 'string') throw new FerryError('BAD_REQUEST', `${field} is required`);
  if (value.length > 256) throw new FerryError('BAD_REQUEST', `${field} is longer than 256 characters`);
}

export function requireMigrationId(id: string | undefined): void {
  requireText(id, 'migration_id');
  if (!validMigrationId(id as string)) throw new FerryError('BAD_REQUEST', `"${id}" is not a valid migration ID`);
}
