// Original file: proto/ferry.proto

import type { Long } from '@grpc/proto-loader';

export interface MigrationStatusReply {
  'role'?: (string);
  'phase'?: (string);
  'outcome'?: (string);
  'idleMs'?: (number | string | Long);
  'busy'?: (boolean);
  'receivedBytes'?: (number | string | Long);
}

export interface MigrationStatusReply__Output {
  'role': (string);
  'phase': (string);
  'outcome': (string);
  'idleMs': (number);
  'busy': (boolean);
  'receivedBytes': (number);
}
