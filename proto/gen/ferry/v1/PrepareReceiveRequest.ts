// Original file: proto/ferry.proto

import type { ContainerInfo as _ferry_v1_ContainerInfo, ContainerInfo__Output as _ferry_v1_ContainerInfo__Output } from '../../ferry/v1/ContainerInfo';
import type { SshRoute as _ferry_v1_SshRoute, SshRoute__Output as _ferry_v1_SshRoute__Output } from '../../ferry/v1/SshRoute';
import type { Long } from '@grpc/proto-loader';

export interface PrepareReceiveRequest {
  'migrationId'?: (string);
  'sourceHost'?: (string);
  'container'?: (_ferry_v1_ContainerInfo | null);
  'ttlMs'?: (number | string | Long);
  'replaceData'?: (boolean);
  'ignoreBindMounts'?: (boolean);
  'sourceCpuinfo'?: (Buffer | Uint8Array | string);
  'dryRun'?: (boolean);
  'archiveBytesEstimate'?: (number | string | Long);
  'sourceAddress'?: (string);
  'newAddress'?: (boolean);
  'sourceSsh'?: (_ferry_v1_SshRoute | null);
  'sourceHostAddress'?: (string);
  'allowCordoned'?: (boolean);
  'evacuatedFrom'?: (string);
}

export interface PrepareReceiveRequest__Output {
  'migrationId': (string);
  'sourceHost': (string);
  'container': (_ferry_v1_ContainerInfo__Output | null);
  'ttlMs': (number);
  'replaceData': (boolean);
  'ignoreBindMounts': (boolean);
  'sourceCpuinfo': (Buffer);
  'dryRun': (boolean);
  'archiveBytesEstimate': (number);
  'sourceAddress': (string);
  'newAddress': (boolean);
  'sourceSsh': (_ferry_v1_SshRoute__Output | null);
  'sourceHostAddress': (string);
  'allowCordoned': (boolean);
  'evacuatedFrom': (string);
}
