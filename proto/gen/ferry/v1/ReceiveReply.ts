// Original file: proto/ferry.proto

import type { Long } from '@grpc/proto-loader';

export interface ReceiveReply {
  'bytes'?: (number | string | Long);
  'sha256'?: (string);
}

export interface ReceiveReply__Output {
  'bytes': (number);
  'sha256': (string);
}
