// Original file: proto/ferry.proto

import type { Long } from '@grpc/proto-loader';

export interface CheckpointAndSendRequest {
  'migrationId'?: (string);
  'container'?: (string);
  'destinationHost'?: (string);
  'destinationAddress'?: (string);
  'compress'?: (string);
  'timeoutMs'?: (number | string | Long);
  'sendImage'?: (boolean);
  'ignoreBindMounts'?: (boolean);
  'noPresync'?: (boolean);
  'transferRetryMs'?: (number | string | Long);
  'bwlimitBytesPerSec'?: (number | string | Long);
}

export interface CheckpointAndSendRequest__Output {
  'migrationId': (string);
  'container': (string);
  'destinationHost': (string);
  'destinationAddress': (string);
  'compress': (string);
  'timeoutMs': (number);
  'sendImage': (boolean);
  'ignoreBindMounts': (boolean);
  'noPresync': (boolean);
  'transferRetryMs': (number);
  'bwlimitBytesPerSec': (number);
}
