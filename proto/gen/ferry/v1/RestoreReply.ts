// Original file: proto/ferry.proto

import type { ContainerInfo as _ferry_v1_ContainerInfo, ContainerInfo__Output as _ferry_v1_ContainerInfo__Output } from '../../ferry/v1/ContainerInfo';
import type { Long } from '@grpc/proto-loader';

export interface RestoreReply {
  'container'?: (_ferry_v1_ContainerInfo | null);
  'restoreMs'?: (number | string | Long);
  'validation'?: (string);
  'runtimeMs'?: (number | string | Long);
  'streamed'?: (boolean);
  'fallback'?: (string);
  'relayedBytes'?: (number | string | Long);
  'newAddress'?: (boolean);
}

export interface RestoreReply__Output {
  'container': (_ferry_v1_ContainerInfo__Output | null);
  'restoreMs': (number);
  'validation': (string);
  'runtimeMs': (number);
  'streamed': (boolean);
  'fallback': (string);
  'relayedBytes': (number);
  'newAddress': (boolean);
}
