// Original file: proto/ferry.proto

import type { StreamKind as _ferry_v1_StreamKind, StreamKind__Output as _ferry_v1_StreamKind__Output } from '../../ferry/v1/StreamKind';
import type { Long } from '@grpc/proto-loader';

export interface Retrying {
  'attempt'?: (number);
  'error'?: (string);
  'resumeFrom'?: (number | string | Long);
  'stream'?: (_ferry_v1_StreamKind);
}

export interface Retrying__Output {
  'attempt': (number);
  'error': (string);
  'resumeFrom': (number);
  'stream': (_ferry_v1_StreamKind__Output);
}
