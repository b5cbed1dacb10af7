// Original file: proto/ferry.proto

import type { PreflightCheck as _ferry_v1_PreflightCheck, PreflightCheck__Output as _ferry_v1_PreflightCheck__Output } from '../../ferry/v1/PreflightCheck';

export interface PrepareReceiveReply {
  'checks'?: (_ferry_v1_PreflightCheck)[];
  'needsImage'?: (boolean);
}

export interface PrepareReceiveReply__Output {
  'checks': (_ferry_v1_PreflightCheck__Output)[];
  'needsImage': (boolean);
}
