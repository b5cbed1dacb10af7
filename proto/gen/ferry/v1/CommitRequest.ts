// Original file: proto/ferry.proto

import type { Long } from '@grpc/proto-loader';

export interface CommitRequest {
  'migrationId'?: (string);
  'downtimeMs'?: (number | string | Long);
  '_downtimeMs'?: "downtimeMs";
}

export interface CommitRequest__Output {
  'migrationId': (string);
  'downtimeMs'?: (number);
  '_downtimeMs'?: "downtimeMs";
}
