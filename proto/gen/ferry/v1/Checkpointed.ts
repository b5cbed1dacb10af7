// Original file: proto/ferry.proto

import type { Long } from '@grpc/proto-loader';

export interface Checkpointed {
  'checkpointMs'?: (number | string | Long);
  'archiveBytes'?: (number | string | Long);
  'frozenMs'?: (number | string | Long);
  'runtimeMs'?: (number | string | Long);
  'freezeAgeMs'?: (number | string | Long);
}

export interface Checkpointed__Output {
  'checkpointMs': (number);
  'archiveBytes': (number);
  'frozenMs': (number);
  'runtimeMs': (number);
  'freezeAgeMs': (number);
}
