// Original file: proto/ferry.proto

import type { Long } from '@grpc/proto-loader';

export interface ImageSent {
  'image'?: (string);
  'bytes'?: (number | string | Long);
  'ms'?: (number | string | Long);
}

export interface ImageSent__Output {
  'image': (string);
  'bytes': (number);
  'ms': (number);
}
