// Original file: proto/ferry.proto

import type { OriginState as _ferry_v1_OriginState, OriginState__Output as _ferry_v1_OriginState__Output } from '../../ferry/v1/OriginState';

export interface Origin {
  'container'?: (string);
  'containerId'?: (string);
  'origin'?: (string);
  'migrationId'?: (string);
  'arrivedAt'?: (string);
  'state'?: (_ferry_v1_OriginState);
  'detail'?: (string);
}

export interface Origin__Output {
  'container': (string);
  'containerId': (string);
  'origin': (string);
  'migrationId': (string);
  'arrivedAt': (string);
  'state': (_ferry_v1_OriginState__Output);
  'detail': (string);
}
