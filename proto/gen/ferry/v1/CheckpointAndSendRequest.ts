// Original file: proto/ferry.proto

import type { Compression as _ferry_v1_Compression, Compression__Output as _ferry_v1_Compression__Output } from '../../ferry/v1/Compression';
import type { SshRoute as _ferry_v1_SshRoute, SshRoute__Output as _ferry_v1_SshRoute__Output } from '../../ferry/v1/SshRoute';
import type { Long } from '@grpc/proto-loader';

export interface CheckpointAndSendRequest {
  'migrationId'?: (string);
  'container'?: (string);
  'destinationHost'?: (string);
  'destinationAddress'?: (string);
  'timeoutMs'?: (number | string | Long);
  'sendImage'?: (boolean);
  'ignoreBindMounts'?: (boolean);
  'noPresync'?: (boolean);
  'transferRetryMs'?: (number | string | Long);
  'bwlimitBytesPerSec'?: (number | string | Long);
  'compress'?: (_ferry_v1_Compression);
  'destinationSsh'?: (_ferry_v1_SshRoute | null);
}

export interface CheckpointAndSendRequest__Output {
  'migrationId': (string);
  'container': (string);
  'destinationHost': (string);
  'destinationAddress': (string);
  'timeoutMs': (number);
  'sendImage': (boolean);
  'ignoreBindMounts': (boolean);
  'noPresync': (boolean);
  'transferRetryMs': (number);
  'bwlimitBytesPerSec': (number);
  'compress': (_ferry_v1_Compression__Output);
  'destinationSsh': (_ferry_v1_SshRoute__Output | null);
}
