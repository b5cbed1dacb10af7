// Original file: proto/ferry.proto

import type { StreamKind as _ferry_v1_StreamKind, StreamKind__Output as _ferry_v1_StreamKind__Output } from '../../ferry/v1/StreamKind';
import type { Long } from '@grpc/proto-loader';

export interface OpenStreamRequest {
  'migrationId'?: (string);
  'round'?: (number);
  'resume'?: (boolean);
  'totalBytes'?: (number | string | Long);
  'kind'?: (_ferry_v1_StreamKind);
}

export interface OpenStreamRequest__Output {
  'migrationId': (string);
  'round': (number);
  'resume': (boolean);
  'totalBytes': (number);
  'kind': (_ferry_v1_StreamKind__Output);
}
