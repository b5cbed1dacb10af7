// Renewed certificates without a restart. `ferry certs renew` writes a host's new key and
// certificate beside the old ones (pki.ts); this watches the agent's TLS files and, once a new
// pair is whole and checks out (the key is the certificate's, the CA issued it), puts it in
// place for everything that speaks TLS: the gRPC server (through grpc-js's certificate-provider
// credentials), the data port (its secure context), and the calls this agent makes to its peers
// (they read the shared TlsFiles at each connection). Connections already open keep the
// certificate they were made with: a migration under way is not cut.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { revokedIn, type TlsFiles } from '../common/pki.ts';
import type { Logger } from './log.ts';

type CaListener = Parameters<grpc.experimental.CertificateProvider['addCaCertificateListener']>[0];
type IdentityListener = Parameters<grpc.experimental.CertificateProvider['addIdentityCertificateListener']>[0];

/** Why a pair read from disk is not used (half written, another key, another CA); empty: it is good. */
export function pairProblem(files: TlsFiles): string {
  try {
    const cert = new X509Certificate(files.cert);
    const ca = new X509Certificate(files.ca);
    if (!cert.checkPrivateKey(createPrivateKey(files.key))) return 'the key is not the certificate\'s';
    if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return 'the CA did not issue the certificate';
    return '';
  } catch (error) {
    return `unreadable: ${(error as Error).message}`;
  }
}

export class TlsReloader implements grpc.experimental.CertificateProvider {
  /** The files in use: one object, updated in place, that every TLS user reads. */
  readonly files: TlsFiles;
  readonly #dir: string;
  readonly #name: string;
  readonly #log: Logger;
  readonly #caListeners = new Set<CaListener>();
  readonly #identityListeners = new Set<IdentityListener>();
  readonly #onChange = new Set<(files: TlsFiles) => void>();
  #timer: NodeJS.Timeout | undefined;
  /** The crl.pem whose revocations are in use. */
  #crl: Buffer | undefined;

  constructor(files: TlsFiles, where: { dir: string; name: string }, log: Logger) {
    this.files = files;
    this.#dir = where.dir;
    this.#name = where.name;
    this.#log = log;
  }

  /** Looks at the files every `intervalMs` from now on. */
  start(intervalMs: number): void {
    this.#timer = setInterval(() => void this.check(), intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** Called with the new files after each change (the data port's secure context). */
  onChange(listener: (files: TlsFiles) => void): void {
    this.#onChange.add(listener);
  }

  /** Reads the files once; true when a new pair, or a new list of revocations, was put in place. */
  async check(): Promise<boolean> {
    const revocations = await this.#checkRevocations();
    return (await this.#checkPair()) || revocations;
  }

  /** crl.pem beside ca.pem (ferry certs revoke), read again when it changed and the CA signed it. */
  async #checkRevocations(): Promise<boolean> {
    const crl = await readFile(join(this.#dir, 'crl.pem')).catch(() => undefined);
    if (!crl || (this.#crl && crl.equals(this.#crl))) return false;
    try {
      this.files.revoked = await revokedIn(this.#dir);
      this.#crl = crl;
      this.#log.info({ revoked: this.files.revoked.size }, 'revocation list in use');
      return true;
    } catch (error) {
      this.#log.warn({ err: (error as Error).message }, 'revocation list not used');
      return false;
    }
  }

  async #checkPair(): Promise<boolean> {
    let next: TlsFiles;
    try {
      const [ca, cert, key] = await Promise.all(['ca.pem', `${this.#name}.pem`, `${this.#name}.key`].map((file) => readFile(join(this.#dir, file))));
      next = { ca: ca as Buffer, cert: cert as Buffer, key: key as Buffer };
    } catch {
      return false; // in the middle of a renewal (a file moved): the next look sees it whole
    }
    if (next.ca.equals(this.files.ca) && next.cert.equals(this.files.cert) && next.key.equals(this.files.key)) return false;
    const problem = pairProblem(next);
    if (problem) {
      this.#log.warn({ dir: this.#dir, problem }, 'new TLS files not used');
      return false;
    }
    Object.assign(this.files, { ca: next.ca, cert: next.cert, key: next.key });
    for (const listener of this.#caListeners) listener({ caCertificate: next.ca });
    for (const listener of this.#identityListeners) listener({ certificate: next.cert, privateKey: next.key });
    for (const listener of this.#onChange) listener(this.files);
    this.#log.info({ notAfter: new Date(new X509Certificate(next.cert).validTo).toISOString() }, 'renewed TLS certificate in use');
    return true;
  }

  // The files in use go to a new listener after the call returns: grpc-js registers the server
  // that listens to its credentials only once the provider's listener is added, and would miss
  // an answer given at once.
  addCaCertificateListener(listener: CaListener): void {
    this.#caListeners.add(listener);
    queueMicrotask(() => this.#caListeners.has(listener) && listener({ caCertificate: this.files.ca }));
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.#caListeners.delete(listener);
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.#identityListeners.add(listener);
    queueMicrotask(() => this.#identityListeners.has(listener) && listener({ certificate: this.files.cert, privateKey: this.files.key }));
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.#identityListeners.delete(listener);
  }
}

/** The gRPC server's credentials from the reloader: mutual TLS, the certificate as renewed. */
export function reloadingServerCredentials(reloader: TlsReloader): grpc.ServerCredentials {
  return grpc.experimental.createCertificateProviderServerCredentials(reloader, reloader, true);
}
