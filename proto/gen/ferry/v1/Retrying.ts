// Original file: proto/ferry.proto

import type { Long } from '@grpc/proto-loader';

export interface Retrying {
  'stream'?: (string);
  'attempt'?: (number);
  'error'?: (string);
  'resumeFrom'?: (number | string | Long);
}

export interface Retrying__Output {
  'stream': (string);
  'attempt': (number);
  'error': (string);
  'resumeFrom': (number);
}
