// Original file: proto/ferry.proto

import type { Long } from '@grpc/proto-loader';

export interface Transferred {
  'bytes'?: (number | string | Long);
  'transferMs'?: (number | string | Long);
  'sha256'?: (string);
  'pagesBytes'?: (number | string | Long);
}

export interface Transferred__Output {
  'bytes': (number);
  'transferMs': (number);
  'sha256': (string);
  'pagesBytes': (number);
}
