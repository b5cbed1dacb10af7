// Original file: proto/ferry.proto

import type { Role as _ferry_v1_Role, Role__Output as _ferry_v1_Role__Output } from '../../ferry/v1/Role';
import type { JournalPhase as _ferry_v1_JournalPhase, JournalPhase__Output as _ferry_v1_JournalPhase__Output } from '../../ferry/v1/JournalPhase';
import type { Long } from '@grpc/proto-loader';

export interface MigrationStatusReply {
  'outcome'?: (string);
  'idleMs'?: (number | string | Long);
  'busy'?: (boolean);
  'receivedBytes'?: (number | string | Long);
  'role'?: (_ferry_v1_Role);
  'phase'?: (_ferry_v1_JournalPhase);
}

export interface MigrationStatusReply__Output {
  'outcome': (string);
  'idleMs': (number);
  'busy': (boolean);
  'receivedBytes': (number);
  'role': (_ferry_v1_Role__Output);
  'phase': (_ferry_v1_JournalPhase__Output);
}
