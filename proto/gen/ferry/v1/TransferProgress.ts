// Original file: proto/ferry.proto

import type { Long } from '@grpc/proto-loader';

export interface TransferProgress {
  'bytes'?: (number | string | Long);
  'totalBytes'?: (number | string | Long);
}

export interface TransferProgress__Output {
  'bytes': (number);
  'totalBytes': (number);
}
