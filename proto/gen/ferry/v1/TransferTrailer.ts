// Original file: proto/ferry.proto

import type { Long } from '@grpc/proto-loader';

export interface TransferTrailer {
  'totalBytes'?: (number | string | Long);
  'sha256'?: (string);
}

export interface TransferTrailer__Output {
  'totalBytes': (number);
  'sha256': (string);
}
