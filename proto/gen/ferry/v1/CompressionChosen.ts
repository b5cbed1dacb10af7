// Original file: proto/ferry.proto

import type { Compression as _ferry_v1_Compression, Compression__Output as _ferry_v1_Compression__Output } from '../../ferry/v1/Compression';

export interface CompressionChosen {
  'compression'?: (_ferry_v1_Compression);
  'reason'?: (string);
}

export interface CompressionChosen__Output {
  'compression': (_ferry_v1_Compression__Output);
  'reason': (string);
}
