// Original file: proto/ferry.proto

import type { CordonState as _ferry_v1_CordonState, CordonState__Output as _ferry_v1_CordonState__Output } from '../../ferry/v1/CordonState';
import type { Long } from '@grpc/proto-loader';

export interface InfoReply {
  'host'?: (string);
  'agentVersion'?: (string);
  'podmanVersion'?: (string);
  'runcVersion'?: (string);
  'criuVersion'?: (string);
  'criuCheckOk'?: (boolean);
  'criuCheckOutput'?: (string);
  'ociRuntime'?: (string);
  'dirtyTracking'?: (boolean);
  'listen'?: (string);
  'uptimeMs'?: (number | string | Long);
  'freeDiskBytes'?: (number | string | Long);
  'cpuinfo'?: (Buffer | Uint8Array | string);
  'certNotAfter'?: (string);
  'dataPort'?: (number);
  'problems'?: (string)[];
  'freeMemoryBytes'?: (number | string | Long);
  'admission'?: (string);
  'cordon'?: (_ferry_v1_CordonState | null);
}

export interface InfoReply__Output {
  'host': (string);
  'agentVersion': (string);
  'podmanVersion': (string);
  'runcVersion': (string);
  'criuVersion': (string);
  'criuCheckOk': (boolean);
  'criuCheckOutput': (string);
  'ociRuntime': (string);
  'dirtyTracking': (boolean);
  'listen': (string);
  'uptimeMs': (number);
  'freeDiskBytes': (number);
  'cpuinfo': (Buffer);
  'certNotAfter': (string);
  'dataPort': (number);
  'problems': (string)[];
  'freeMemoryBytes': (number);
  'admission': (string);
  'cordon': (_ferry_v1_CordonState__Output | null);
}
