// Original file: proto/ferry.proto

import type { Flow as _ferry_v1_Flow, Flow__Output as _ferry_v1_Flow__Output } from '../../ferry/v1/Flow';

export interface AddressReleased {
  'address'?: (string);
  'flows'?: (_ferry_v1_Flow)[];
}

export interface AddressReleased__Output {
  'address': (string);
  'flows': (_ferry_v1_Flow__Output)[];
}
