// Original file: proto/ferry.proto

import type { PortMapping as _ferry_v1_PortMapping, PortMapping__Output as _ferry_v1_PortMapping__Output } from '../../ferry/v1/PortMapping';
import type { Mount as _ferry_v1_Mount, Mount__Output as _ferry_v1_Mount__Output } from '../../ferry/v1/Mount';
import type { Readiness as _ferry_v1_Readiness, Readiness__Output as _ferry_v1_Readiness__Output } from '../../ferry/v1/Readiness';
import type { SystemdUnit as _ferry_v1_SystemdUnit, SystemdUnit__Output as _ferry_v1_SystemdUnit__Output } from '../../ferry/v1/SystemdUnit';
import type { Long } from '@grpc/proto-loader';

export interface ContainerInfo {
  'id'?: (string);
  'name'?: (string);
  'imageId'?: (string);
  'imageName'?: (string);
  'state'?: (string);
  'ports'?: (_ferry_v1_PortMapping)[];
  'ipAddresses'?: (string)[];
  'mounts'?: (_ferry_v1_Mount)[];
  'ociRuntime'?: (string);
  'labels'?: ({[key: string]: string});
  'networks'?: (string)[];
  'cgroupPath'?: (string);
  'estimatedBytes'?: (number | string | Long);
  'readiness'?: (_ferry_v1_Readiness | null);
  'autoRemove'?: (boolean);
  'unit'?: (_ferry_v1_SystemdUnit | null);
  'runtimeSpec'?: (Buffer | Uint8Array | string);
  'privileged'?: (boolean);
}

export interface ContainerInfo__Output {
  'id': (string);
  'name': (string);
  'imageId': (string);
  'imageName': (string);
  'state': (string);
  'ports': (_ferry_v1_PortMapping__Output)[];
  'ipAddresses': (string)[];
  'mounts': (_ferry_v1_Mount__Output)[];
  'ociRuntime': (string);
  'labels': ({[key: string]: string});
  'networks': (string)[];
  'cgroupPath': (string);
  'estimatedBytes': (number);
  'readiness': (_ferry_v1_Readiness__Output | null);
  'autoRemove': (boolean);
  'unit': (_ferry_v1_SystemdUnit__Output | null);
  'runtimeSpec': (Buffer);
  'privileged': (boolean);
}
