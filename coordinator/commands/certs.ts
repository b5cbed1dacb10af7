// ferry certs: the fleet's own CA, and the certificates it issues to agents and coordinators.
import { readFileSync } from 'node:fs';
import { initCa, issue, notAfter, renew, revoke } from '../../common/pki.ts';
import { usage, type Output } from '../output.ts';

export async function runCerts(
  values: { dir: string; role?: string | undefined; ip?: string[] | undefined; dns?: string[] | undefined; days: string },
  rest: string[],
  io: Output,
): Promise<number> {
  const [action, name] = rest;
  if (action === 'init') {
    const { created } = await initCa(values.dir);
    io.out(created ? `certs      made the Ferry CA in ${values.dir} (ca.pem, ca.key)` : `certs      ${values.dir} already has a CA; kept it`);
    return 0;
  }
  if (action === 'issue' && name) {
    const role = values.role ?? (name === 'coordinator' ? 'coordinator' : 'agent');
    if (role !== 'agent' && role !== 'coordinator') usage(`--role must be agent or coordinator, not "${role}"`);
    const days = Number(values.days);
    if (!Number.isInteger(days) || days < 1) usage('--days must be a whole number of days');
    const path = await issue(values.dir, name, { role, ips: values.ip ?? [], dns: values.dns ?? [], days });
    io.out(`certs      issued ${path} (${role}) valid until ${notAfter(readFileSync(path))}`);
    return 0;
  }
  if (action === 'renew' && name) {
    const days = Number(values.days);
    if (!Number.isInteger(days) || days < 1) usage('--days must be a whole number of days');
    const renewed = await renew(values.dir, name, days);
    io.out(`certs      renewed ${renewed.path}: valid until ${renewed.after} (was ${renewed.before}); an agent using it picks it up within a minute, without a restart`);
    return 0;
  }
  if (action === 'revoke' && name) {
    const revoked = await revoke(values.dir, name);
    io.out(`certs      revoked ${name} (serial ${revoked.serial}); ${revoked.crl} lists ${revoked.count} revoked certificate${revoked.count === 1 ? '' : 's'}: copy it beside ca.pem on every host and coordinator (agents read it within 30 s)`);
    return 0;
  }
  return usage('ferry certs init [--dir DIR] | ferry certs issue NAME [--role agent|coordinator] [--ip ADDR]... [--dns NAME]... [--days N] [--dir DIR] | ferry certs renew NAME [--days N] [--dir DIR] | ferry certs revoke NAME [--dir DIR]');
}
