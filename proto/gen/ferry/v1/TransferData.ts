// Original file: proto/ferry.proto

import type { Long } from '@grpc/proto-loader';

export interface TransferData {
  'offset'?: (number | string | Long);
  'data'?: (Buffer | Uint8Array | string);
  'crc32'?: (number);
}

export interface TransferData__Output {
  'offset': (number);
  'data': (Buffer);
  'crc32': (number);
}
