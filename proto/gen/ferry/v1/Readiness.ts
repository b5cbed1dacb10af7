// Original file: proto/ferry.proto

import type { Finding as _ferry_v1_Finding, Finding__Output as _ferry_v1_Finding__Output } from '../../ferry/v1/Finding';

export interface Readiness {
  'fileLocks'?: (_ferry_v1_Finding)[];
  'obstacles'?: (_ferry_v1_Finding)[];
}

export interface Readiness__Output {
  'fileLocks': (_ferry_v1_Finding__Output)[];
  'obstacles': (_ferry_v1_Finding__Output)[];
}
