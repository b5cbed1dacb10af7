// Original file: proto/ferry.proto

import type { PortMapping as _ferry_v1_PortMapping, PortMapping__Output as _ferry_v1_PortMapping__Output } from '../../ferry/v1/PortMapping';

export interface ContainerSummary {
  'id'?: (string);
  'name'?: (string);
  'image'?: (string);
  'state'?: (string);
  'ports'?: (_ferry_v1_PortMapping)[];
  'problem'?: (string);
}

export interface ContainerSummary__Output {
  'id': (string);
  'name': (string);
  'image': (string);
  'state': (string);
  'ports': (_ferry_v1_PortMapping__Output)[];
  'problem': (string);
}
