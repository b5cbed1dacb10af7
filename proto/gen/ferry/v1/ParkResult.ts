// Original file: proto/ferry.proto

import type { Long } from '@grpc/proto-loader';

export interface ParkResult {
  'container'?: (string);
  'ok'?: (boolean);
  'outcome'?: (string);
  'archiveBytes'?: (number | string | Long);
  'ms'?: (number | string | Long);
}

export interface ParkResult__Output {
  'container': (string);
  'ok': (boolean);
  'outcome': (string);
  'archiveBytes': (number);
  'ms': (number);
}
