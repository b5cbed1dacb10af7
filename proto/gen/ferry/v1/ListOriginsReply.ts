// Original file: proto/ferry.proto

import type { Origin as _ferry_v1_Origin, Origin__Output as _ferry_v1_Origin__Output } from '../../ferry/v1/Origin';

export interface ListOriginsReply {
  'origins'?: (_ferry_v1_Origin)[];
}

export interface ListOriginsReply__Output {
  'origins': (_ferry_v1_Origin__Output)[];
}
