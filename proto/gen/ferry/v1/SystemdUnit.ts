// Original file: proto/ferry.proto

import type { UnitKind as _ferry_v1_UnitKind, UnitKind__Output as _ferry_v1_UnitKind__Output } from '../../ferry/v1/UnitKind';

export interface SystemdUnit {
  'name'?: (string);
  'kind'?: (_ferry_v1_UnitKind);
  'path'?: (string);
  'content'?: (string);
  'enabled'?: (boolean);
  'refusal'?: (string);
}

export interface SystemdUnit__Output {
  'name': (string);
  'kind': (_ferry_v1_UnitKind__Output);
  'path': (string);
  'content': (string);
  'enabled': (boolean);
  'refusal': (string);
}
