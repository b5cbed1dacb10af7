// Original file: proto/ferry.proto

import type { Long } from '@grpc/proto-loader';

export interface DataSynced {
  'round'?: (number);
  'bytes'?: (number | string | Long);
  'entries'?: (number | string | Long);
  'removed'?: (number | string | Long);
  'ms'?: (number | string | Long);
  'paths'?: (string)[];
}

export interface DataSynced__Output {
  'round': (number);
  'bytes': (number);
  'entries': (number);
  'removed': (number);
  'ms': (number);
  'paths': (string)[];
}
