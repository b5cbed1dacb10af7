// Original file: proto/ferry.proto

import type { Long } from '@grpc/proto-loader';

export interface RestoreRequest {
  'migrationId'?: (string);
  'timeoutMs'?: (number | string | Long);
  'expectedValidation'?: (string);
  'fileLocks'?: (boolean);
}

export interface RestoreRequest__Output {
  'migrationId': (string);
  'timeoutMs': (number);
  'expectedValidation': (string);
  'fileLocks': (boolean);
}
