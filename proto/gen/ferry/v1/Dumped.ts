// Original file: proto/ferry.proto

import type { Long } from '@grpc/proto-loader';

export interface Dumped {
  'ms'?: (number | string | Long);
}

export interface Dumped__Output {
  'ms': (number);
}
