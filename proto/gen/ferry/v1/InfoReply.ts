// Original file: proto/ferry.proto

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
}
