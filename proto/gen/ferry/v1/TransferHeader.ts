// Original file: proto/ferry.proto

import type { Long } from '@grpc/proto-loader';

export interface TransferHeader {
  'migrationId'?: (string);
  'sourceHost'?: (string);
  'totalBytes'?: (number | string | Long);
  'kind'?: (string);
  'round'?: (number);
  'resumeFrom'?: (number | string | Long);
}

export interface TransferHeader__Output {
  'migrationId': (string);
  'sourceHost': (string);
  'totalBytes': (number);
  'kind': (string);
  'round': (number);
  'resumeFrom': (number);
}
