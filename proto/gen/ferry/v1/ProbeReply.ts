// Original file: proto/ferry.proto

import type { Long } from '@grpc/proto-loader';

export interface ProbeReply {
  'received'?: (number | string | Long);
}

export interface ProbeReply__Output {
  'received': (number);
}
