// Original file: proto/ferry.proto

import type { Long } from '@grpc/proto-loader';

export interface Checkpointed {
  'checkpointMs'?: (number | string | Long);
  'archiveBytes'?: (number | string | Long);
  'validation'?: (string);
  'frozenMs'?: (number | string | Long);
}

export interface Checkpointed__Output {
  'checkpointMs': (number);
  'archiveBytes': (number);
  'validation': (string);
  'frozenMs': (number);
}
