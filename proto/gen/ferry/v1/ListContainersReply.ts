// Original file: proto/ferry.proto

import type { ContainerSummary as _ferry_v1_ContainerSummary, ContainerSummary__Output as _ferry_v1_ContainerSummary__Output } from '../../ferry/v1/ContainerSummary';

export interface ListContainersReply {
  'containers'?: (_ferry_v1_ContainerSummary)[];
}

export interface ListContainersReply__Output {
  'containers': (_ferry_v1_ContainerSummary__Output)[];
}
