// Original file: proto/ferry.proto

import type { Long } from '@grpc/proto-loader';

export interface OpenStreamReply {
  'token'?: (string);
  'port'?: (number);
  'resumeFrom'?: (number | string | Long);
  'ttlMs'?: (number | string | Long);
  'complete'?: (boolean);
  'sha256'?: (string);
}

export interface OpenStreamReply__Output {
  'token': (string);
  'port': (number);
  'resumeFrom': (number);
  'ttlMs': (number);
  'complete': (boolean);
  'sha256': (string);
}
