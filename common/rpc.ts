// The gRPC boundary: loading the service definition, and turning FerryError into a gRPC status
// (plus our code in trailing metadata) and back. Each side converts exactly once here.
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType } from '../proto/gen/ferry.ts';
import type { AgentClient } from '../proto/gen/ferry/v1/Agent.ts';
import { FerryError, isErrorCode, type ErrorCode } from './errors.ts';
import { revokedPeer, serialKey, type TlsFiles } from './pki.ts';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { isPhase } from './phases.ts';

export type { AgentClient };

const PROTO_PATH = fileURLToPath(new URL('../proto/ferry.proto', import.meta.url));

let loaded: ProtoGrpcType | undefined;

export function ferryProto(): ProtoGrpcType {
  loaded ??= grpc.loadPackageDefinition(
    protoLoader.loadSync(PROTO_PATH, {
      keepCase: false,
      longs: Number,
      enums: String,
      defaults: true,
      oneofs: true,
    }),
  ) as unknown as ProtoGrpcType;
  return loaded;
}

/** Large enough for one 1 MiB data chunk plus framing. */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
  'grpc.keepalive_permit_without_calls': 1,
};

export function serverOptions(): grpc.ServerOptions {
  return {
    'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
    'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.http2.min_ping_interval_without_data_ms': 5_000,
  };
}

/**
 * A client of the agent at `address`: mutual TLS with `tls`, plaintext without (--insecure).
 * With TLS the agent's certificate must name `hostName` (its inventory name, a DNS SAN) when one
 * is given, else the address itself (an IP SAN).
 */
export function agentClient(address: string, tls?: TlsFiles, hostName?: string): AgentClient {
  const Agent = ferryProto().ferry.v1.Agent;
  if (!tls) return new Agent(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
  const named = hostName && /^[A-Za-z0-9][A-Za-z0-9.-]*$/.test(hostName) ? { 'grpc.ssl_target_name_override': hostName } : {};
  // The agent's certificate is checked as grpc-js would, and against the CA's revocations.
  const verify = { checkServerIdentity: (host: string, certificate: PeerCertificate) => checkServerIdentity(host, certificate) ?? revokedPeer(tls, certificate) };
  return new Agent(address, grpc.credentials.createSsl(tls.ca, tls.key, tls.cert, verify), { ...CHANNEL_OPTIONS, ...named });
}

/** The agent's side: only clients with a certificate from the same CA get in. */
export function serverCredentials(tls?: TlsFiles): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  return grpc.ServerCredentials.createSsl(tls.ca, [{ cert_chain: tls.cert, private_key: tls.key }], true);
}

export interface Caller {
  role: string;
  name: string;
  /** Its certificate's serial number (serialKey form): what a revocation names. */
  serial: string;
}

/** Who is calling, from the client certificate; undefined on a plaintext (--insecure) agent. */
export function callerOf(call: { getAuthContext?: () => { sslPeerCertificate?: PeerCertificate } | null }): Caller | undefined {
  return callerOfCertificate(call.getAuthContext?.()?.sslPeerCertificate);
}

/** Who a client certificate names (its OU the role, its CN the name), on the gRPC port and the data port alike. */
export function callerOfCertificate(certificate: Pick<PeerCertificate, 'subject' | 'serialNumber'> | undefined): Caller | undefined {
  if (!certificate?.subject) return undefined;
  const field = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value) ?? '';
  return { role: field(certificate.subject.OU), name: field(certificate.subject.CN), serial: serialKey(certificate.serialNumber ?? '') };
}

const STATUS_BY_CODE: Partial<Record<ErrorCode, grpc.status>> = {
  BAD_REQUEST: grpc.status.INVALID_ARGUMENT,
  SAME_HOST: grpc.status.INVALID_ARGUMENT,
  CONTAINER_NOT_FOUND: grpc.status.NOT_FOUND,
  MIGRATION_UNKNOWN: grpc.status.NOT_FOUND,
  CONTAINER_NOT_RUNNING: grpc.status.FAILED_PRECONDITION,
  PREFLIGHT_FAILED: grpc.status.FAILED_PRECONDITION,
  DEST_PORT_BUSY: grpc.status.FAILED_PRECONDITION,
  DEST_IP_UNAVAILABLE: grpc.status.FAILED_PRECONDITION,
  DEST_NAME_TAKEN: grpc.status.ALREADY_EXISTS,
  CRIU_UNAVAILABLE: grpc.status.FAILED_PRECONDITION,
  MIGRATION_BUSY: grpc.status.ABORTED,
  INTEGRITY_MISMATCH: grpc.status.DATA_LOSS,
  DISK_FULL: grpc.status.RESOURCE_EXHAUSTED,
  AGENT_UNREACHABLE: grpc.status.UNAVAILABLE,
  AGENT_STOPPING: grpc.status.UNAVAILABLE,
  TRANSFER_FAILED: grpc.status.UNAVAILABLE,
  CANCELLED: grpc.status.CANCELLED,
  UNAUTHORIZED: grpc.status.PERMISSION_DENIED,
};

const META = {
  code: 'ferry-code',
  phase: 'ferry-phase',
  host: 'ferry-host',
  hint: 'ferry-hint',
  details: 'ferry-details',
} as const;

/** Agent side: a thrown value as the status object grpc-js sends. */
export function toServiceError(error: unknown, host: string): Partial<grpc.StatusObject> {
  const ferry = FerryError.from(error, { host });
  const metadata = new grpc.Metadata();
  metadata.set(META.code, ferry.code);
  if (ferry.phase) metadata.set(META.phase, ferry.phase);
  if (ferry.host) metadata.set(META.host, ferry.host);
  metadata.set(META.hint, encodeURIComponent(ferry.hint));
  if (ferry.details.length) metadata.set(META.details, encodeURIComponent(JSON.stringify(ferry.details)));
  return {
    code: STATUS_BY_CODE[ferry.code] ?? grpc.status.INTERNAL,
    details: ferry.message,
    metadata,
  };
}

function metaString(metadata: grpc.Metadata | undefined, key: string): string | undefined {
  const value = metadata?.get(key)[0];
  return typeof value === 'string' ? value : undefined;
}

/** Caller side: a gRPC error as the FerryError the agent raised, or one that says what broke. */
export function fromServiceError(error: unknown, host: string): FerryError {
  if (error instanceof FerryError) return error.at(undefined, host);
  const status = error as Partial<grpc.ServiceError>;
  if (typeof status?.code !== 'number') return FerryError.from(error, { host });
  const code = metaString(status.metadata, META.code);
  if (isErrorCode(code)) {
    const phase = metaString(status.metadata, META.phase);
    const hint = metaString(status.metadata, META.hint);
    const details = metaString(status.metadata, META.details);
    return new FerryError(code, status.details ?? code, {
      phase: isPhase(phase) ? phase : undefined,
      host: metaString(status.metadata, META.host) ?? host,
      hint: hint === undefined ? undefined : decodeURIComponent(hint),
      details: details === undefined ? undefined : (JSON.parse(decodeURIComponent(details)) as string[]),
      cause: error,
    });
  }
  switch (status.code) {
    case grpc.status.UNAVAILABLE:
      return new FerryError('AGENT_UNREACHABLE', `agent on ${host} is unreachable: ${tidy(status.details)}`, { host, cause: error });
    case grpc.status.DEADLINE_EXCEEDED:
      return new FerryError('AGENT_UNREACHABLE', `agent on ${host} did not answer in time`, { host, cause: error });
    case grpc.status.CANCELLED:
      return new FerryError('CANCELLED', `call to ${host} was cancelled`, { host, cause: error });
    case grpc.status.PERMISSION_DENIED:
      return new FerryError('UNAUTHORIZED', status.details ?? 'permission denied', { host, cause: error });
    case grpc.status.INVALID_ARGUMENT:
      return new FerryError('BAD_REQUEST', status.details ?? 'invalid argument', { host, cause: error });
    default:
      return new FerryError('INTERNAL', `agent on ${host} failed: ${status.details ?? 'unknown error'}`, { host, cause: error });
  }
}


/** grpc-js connection errors end in an empty "Resolution note:"; drop the noise. */
function tidy(details: string | undefined): string {
  return (details ?? 'no details').replace(/\.?\s*Resolution note:\s*$/, '').replace(/^No connection established\. Last error: (Error: )?/, '');
}
