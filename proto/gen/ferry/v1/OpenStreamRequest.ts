// Original file: proto/ferry.proto

import type { Long } from '@grpc/proto-loader';

export interface OpenStreamRequest {
  'migrationId'?: (string);
  'kind'?: (string);
  'round'?: (number);
  'resume'?: (boolean);
  'totalBytes'?: (number | string | Long);
}

export interface OpenStreamRequest__Output {
  'migrationId': (string);
  'kind': (string);
  'round': (number);
  'resume': (boolean);
  'totalBytes': (number);
}
