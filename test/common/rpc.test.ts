import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { FerryError } from '../../common/errors.ts';
import { fromServiceError, toServiceError } from '../../common/rpc.ts';

describe('error conversion at the gRPC boundary', () => {
  it('carries code, phase, host, hint and CRIU lines across', () => {
    const original = new FerryError('RESTORE_FAILED', 'podman container restore exited with code 125', {
      phase: 'restore',
      host: 'hostB',
      details: ['Error (criu/files-reg.c:2000): Can\'t open file', 'ünïcode ok'],
    });
    const status = toServiceError(original, 'hostB');
    expect(status.code).toBe(grpc.status.INTERNAL);
    const back = fromServiceError({ ...status, message: status.details } as grpc.ServiceError, 'hostB');
    expect(back.code).toBe('RESTORE_FAILED');
    expect(back.phase).toBe('restore');
    expect(back.host).toBe('hostB');
    expect(back.details).toEqual(original.details);
    expect(back.hint).toBe(original.hint);
  });

  it('maps codes to fitting gRPC statuses', () => {
    expect(toServiceError(new FerryError('BAD_REQUEST', 'x'), 'h').code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(toServiceError(new FerryError('MIGRATION_UNKNOWN', 'x'), 'h').code).toBe(grpc.status.NOT_FOUND);
    expect(toServiceError(new FerryError('INTEGRITY_MISMATCH', 'x'), 'h').code).toBe(grpc.status.DATA_LOSS);
  });

  it('explains transport failures that carry no Ferry code', () => {
    const unreachable = fromServiceError(
      { code: grpc.status.UNAVAILABLE, details: 'No connection established. Last error: Error: connect ECONNREFUSED 10.0.0.1:7070. Resolution note: ', metadata: new grpc.Metadata() } as grpc.ServiceError,
      'hostB',
    );
    expect(unreachable.code).toBe('AGENT_UNREACHABLE');
    expect(unreachable.host).toBe('hostB');
    expect(unreachable.message).toBe('agent on hostB is unreachable: connect ECONNREFUSED 10.0.0.1:7070');
    const invalid = fromServiceError({ code: grpc.status.INVALID_ARGUMENT, details: 'bad', metadata: new grpc.Metadata() } as grpc.ServiceError, 'h');
    expect(invalid.code).toBe('BAD_REQUEST');
  });
});
