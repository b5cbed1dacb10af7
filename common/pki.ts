// Ferry's private CA, with the openssl CLI: one CA per fleet, a certificate per agent (its names
// and addresses as SANs) and one for the coordinator. The role is the certificate's OU, and the
// host name its CN: agents authorize callers by them.
import { X509Certificate } from 'node:crypto';
import { access, chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { FerryError } from './errors.ts';

export type Role = 'agent' | 'coordinator';
export const ROLES: readonly Role[] = ['agent', 'coordinator'];

/** What a party needs to speak mutual TLS: the CA, its certificate and its key. */
export interface TlsFiles {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
  /**
   * Serial numbers (upper-case hex) the CA revoked, from crl.pem beside ca.pem when there is one
   * (ferry certs revoke): a peer that shows one of them is refused, on every port.
   */
  revoked?: Set<string> | undefined;
}

/** A serial number as the revocation set keeps it: upper-case hex, no leading zeros. */
export const serialKey = (serial: string) => serial.toUpperCase().replace(/^0+(?=.)/, '');

/**
 * The one revocation check, on every port (gRPC, data, a peer agent's server): the refusal of a
 * certificate whose serial the CA revoked (as the last crl.pem read says); undefined otherwise.
 */
export function revocationOf(tls: TlsFiles | undefined, holder: { name: string; serial: string }): FerryError | undefined {
  if (!holder.serial || !tls?.revoked?.has(holder.serial)) return undefined;
  return new FerryError('UNAUTHORIZED', `the certificate of ${holder.name} (serial ${holder.serial}) was revoked by the fleet's CA`);
}

/** revocationOf a server's certificate, for a TLS checkServerIdentity. */
export function revokedPeer(tls: TlsFiles, certificate: { serialNumber?: string; subject?: { CN?: string | string[] } }): Error | undefined {
  return revocationOf(tls, { name: String(certificate.subject?.CN ?? '?'), serial: certificate.serialNumber ? serialKey(certificate.serialNumber) : '' });
}

export const DEFAULT_PKI_DIR = '/etc/ferry/pki';

async function openssl(args: string[], cwd: string): Promise<void> {
  const r = await execa('openssl', args, { cwd, reject: false, all: true, stdin: 'ignore' });
  if (r.failed) {
    throw new FerryError('INTERNAL', `openssl ${args[0]} failed: ${String(r.all).trim().split('\n').slice(-3).join(' ')}`, {
      hint: "openssl's own words are above. Check that the CA's folder holds ca.pem and ca.key, readable, and can be written to.",
    });
  }
}

/** Makes the CA (ca.pem, ca.key) unless the directory has one. */
export async function initCa(dir: string): Promise<{ created: boolean }> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (await readFile(join(dir, 'ca.pem')).then(() => true, () => false)) return { created: false };
  await openssl(
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem',
      '-days', '3650', '-subj', '/O=ferry/CN=Ferry CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
    dir,
  );
  await chmod(join(dir, 'ca.key'), 0o600);
  return { created: true };
}

export interface IssueOptions {
  role: Role;
  ips?: readonly string[];
  dns?: readonly string[];
  /** Validity as openssl dates (YYYYMMDDHHMMSSZ); default: from now, for `days`. */
  notBefore?: string;
  notAfter?: string;
  days?: number;
  /** Write the files under this name instead of NAME (a renewal, before it replaces them). */
  fileName?: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/** Issues NAME.pem and NAME.key in `folder`, signed by the CA there. */
export async function issue(folder: string, name: string, options: IssueOptions): Promise<string> {
  // openssl runs in a work folder of its own: every path it is given must hold from there.
  const dir = resolve(folder);
  if (!NAME.test(name)) throw new FerryError('BAD_REQUEST', `"${name}" is not a valid certificate name`);
  if (!ROLES.includes(options.role)) throw new FerryError('BAD_REQUEST', `role must be agent or coordinator, not "${options.role}"`);
  await access(join(dir, 'ca.key')).catch((cause: unknown) => {
    throw new FerryError('BAD_REQUEST', `no CA in ${dir}: it has no ca.key`, { cause, hint: `Make the fleet's CA there first (ferry certs init --dir ${folder}), or name the folder that has it with --dir.` });
  });
  const sans = [...(options.dns ?? []).map((d) => `DNS:${d}`), ...(options.ips ?? []).map((ip) => `IP:${ip}`)];
  if (options.role === 'agent' && !sans.length) sans.push(`DNS:${name}`);
  const work = join(dir, `.issue-${name}`);
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { mode: 0o700 });
  try {
    // `openssl ca` (not `x509 -req`) because it takes explicit start and end dates.
    await writeFile(join(work, 'index.txt'), '');
    await writeFile(
      join(work, 'ca.cnf'),
      [
        '[ca]', 'default_ca = ferry', '[ferry]', `dir = ${work}`, 'database = $dir/index.txt', 'new_certs_dir = $dir',
        'default_md = sha256', 'policy = any', 'copy_extensions = none', 'unique_subject = no', 'rand_serial = yes',
        '[any]', 'commonName = supplied', 'organizationName = optional', 'organizationalUnitName = optional',
        '[ext]', 'basicConstraints = critical,CA:FALSE', 'keyUsage = critical,digitalSignature,keyEncipherment',
        `extendedKeyUsage = ${options.role === 'agent' ? 'serverAuth,clientAuth' : 'clientAuth'}`,
        ...(sans.length ? [`subjectAltName = ${sans.join(',')}`] : []),
      ].join('\n'),
    );
    await openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'key.pem', '-out', 'req.csr',
      '-subj', `/O=ferry/OU=${options.role}/CN=${name}`], work);
    const validity = options.notBefore && options.notAfter
      ? ['-startdate', options.notBefore, '-enddate', options.notAfter]
      : ['-days', String(options.days ?? 825)];
    await openssl(['ca', '-batch', '-config', 'ca.cnf', '-extensions', 'ext', '-cert', join(dir, 'ca.pem'), '-keyfile', join(dir, 'ca.key'),
      '-in', 'req.csr', '-out', 'cert.pem', '-notext', ...validity], work);
    const file = options.fileName ?? name;
    await writeFile(join(dir, `${file}.key`), await readFile(join(work, 'key.pem')), { mode: 0o600 });
    await writeFile(join(dir, `${file}.pem`), await readFile(join(work, 'cert.pem')));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return join(dir, `${options.fileName ?? name}.pem`);
}

/** The CA, certificate and key of NAME in `dir`. */
export async function loadTls(dir: string, name: string): Promise<TlsFiles> {
  try {
    const [ca, cert, key] = await Promise.all([
      readFile(join(dir, 'ca.pem')),
      readFile(join(dir, `${name}.pem`)),
      readFile(join(dir, `${name}.key`)),
    ]);
    return { ca, cert, key, revoked: await revokedIn(dir) };
  } catch (cause) {
    throw new FerryError('BAD_REQUEST', `no TLS files for "${name}" in ${dir} (ca.pem, ${name}.pem, ${name}.key)`, {
      cause,
      hint: `Make them with: ferry certs init --dir ${dir} && ferry certs issue ${name} --role ... --dir ${dir}`,
    });
  }
}

/** When a certificate stops being valid, as an ISO date. */
export function notAfter(pem: Buffer): string {
  return new Date(new X509Certificate(pem).validTo).toISOString();
}

/** What a certificate says of itself that issuing it again needs: its role (OU) and its names. */
export function describeCertificate(pem: Buffer): { name: string; role: Role; ips: string[]; dns: string[]; notAfter: string } {
  const cert = new X509Certificate(pem);
  const field = (key: string) => new RegExp(`^${key}=(.*)$`, 'm').exec(cert.subject)?.[1] ?? '';
  const role = field('OU');
  if (!ROLES.includes(role as Role)) throw new FerryError('BAD_REQUEST', `the certificate of ${field('CN') || '?'} names no Ferry role (OU=${role || 'none'})`);
  const sans = (cert.subjectAltName ?? '').split(', ').filter(Boolean);
  return {
    name: field('CN'),
    role: role as Role,
    ips: sans.filter((s) => s.startsWith('IP Address:')).map((s) => s.slice('IP Address:'.length)),
    dns: sans.filter((s) => s.startsWith('DNS:')).map((s) => s.slice('DNS:'.length)),
    notAfter: new Date(cert.validTo).toISOString(),
  };
}

/**
 * Issues NAME again with the same role and names, a new key and a new validity; the old files
 * are replaced only once the new ones are whole (an agent that reloads them, pki watch, never
 * reads half a pair). Returns the old and new expiry.
 */
export async function renew(dir: string, name: string, days?: number): Promise<{ path: string; before: string; after: string }> {
  if (!NAME.test(name)) throw new FerryError('BAD_REQUEST', `"${name}" is not a valid certificate name`);
  const current = await readFile(join(dir, `${name}.pem`)).catch((cause: unknown) => {
    throw new FerryError('BAD_REQUEST', `no certificate ${name}.pem in ${dir} to renew`, { cause, hint: `Issue it first: ferry certs issue ${name} --dir ${dir}` });
  });
  const was = describeCertificate(current);
  const staging = `.renew-${name}`;
  await issue(dir, name, { role: was.role, ips: was.ips, dns: was.dns, days, fileName: staging });
  // The key first: a reader that sees the new certificate must find its key beside it.
  await rename(join(dir, `${staging}.key`), join(dir, `${name}.key`));
  await rename(join(dir, `${staging}.pem`), join(dir, `${name}.pem`));
  return { path: join(dir, `${name}.pem`), before: was.notAfter, after: notAfter(await readFile(join(dir, `${name}.pem`))) };
}

/** The CRL in `dir` (crl.pem), checked against the CA there; an empty set when there is none. */
export async function revokedIn(dir: string): Promise<Set<string>> {
  const crl = join(dir, 'crl.pem');
  if (!(await readFile(crl).then(() => true, () => false))) return new Set();
  // openssl checks the CA's signature (-verify) before the list is believed.
  const r = await execa('openssl', ['crl', '-in', crl, '-CAfile', join(dir, 'ca.pem'), '-verify', '-noout', '-text'], { reject: false, all: true, stdin: 'ignore' });
  if (r.failed || !/verify OK/.test(String(r.all))) {
    throw new FerryError('BAD_REQUEST', `${crl} is not a revocation list of the CA in ${dir}: ${String(r.all).trim().split('\n').slice(-2).join(' ')}`);
  }
  return new Set([...String(r.stdout).matchAll(/Serial Number:\s*([0-9A-Fa-f]+)/g)].map((m) => serialKey(m[1] as string)));
}

/**
 * Revokes NAME's certificate: its entry goes into the CA's list of revoked certificates
 * (revoked.txt, openssl's index format) and crl.pem, signed by the CA, is made again from it.
 * Copy crl.pem beside ca.pem on every host and coordinator: they read it within 30 s.
 */
export async function revoke(folder: string, name: string): Promise<{ serial: string; crl: string; count: number }> {
  const dir = resolve(folder); // openssl runs in a work folder of its own, as in issue()
  if (!NAME.test(name)) throw new FerryError('BAD_REQUEST', `"${name}" is not a valid certificate name`);
  const pem = await readFile(join(dir, `${name}.pem`)).catch((cause: unknown) => {
    throw new FerryError('BAD_REQUEST', `no certificate ${name}.pem in ${dir} to revoke`, { cause });
  });
  const cert = new X509Certificate(pem);
  const serial = serialKey(cert.serialNumber);
  const index = join(dir, 'revoked.txt');
  const known = await readFile(index, 'utf8').catch(() => '');
  const date = (d: Date) => `${d.toISOString().replace(/[-:T]/g, '').slice(2, 14)}Z`;
  const subject = `/${cert.subject.split('\n').join('/')}`;
  const entries = known.split('\n').filter(Boolean);
  if (!entries.some((line) => serialKey(line.split('\t')[3] ?? '') === serial)) {
    entries.push(['R', date(new Date(cert.validTo)), date(new Date()), serial.length % 2 ? `0${serial}` : serial, 'unknown', subject].join('\t'));
  }
  await writeFile(index, `${entries.join('\n')}\n`);
  const work = join(dir, '.crl');
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { mode: 0o700 });
  try {
    await writeFile(join(work, 'ca.cnf'), ['[ca]', 'default_ca = ferry', '[ferry]', `database = ${index}`, 'default_md = sha256', 'default_crl_days = 3650', ''].join('\n'));
    await openssl(['ca', '-batch', '-gencrl', '-config', 'ca.cnf', '-cert', join(dir, 'ca.pem'), '-keyfile', join(dir, 'ca.key'), '-out', join(dir, 'crl.pem')], work);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return { serial, crl: join(dir, 'crl.pem'), count: entries.length };
}
