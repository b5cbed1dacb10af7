// Original file: proto/ferry.proto

import type { Role as _ferry_v1_Role, Role__Output as _ferry_v1_Role__Output } from '../../ferry/v1/Role';
import type { JournalPhase as _ferry_v1_JournalPhase, JournalPhase__Output as _ferry_v1_JournalPhase__Output } from '../../ferry/v1/JournalPhase';
import type { PhaseTime as _ferry_v1_PhaseTime, PhaseTime__Output as _ferry_v1_PhaseTime__Output } from '../../ferry/v1/PhaseTime';
import type { Long } from '@grpc/proto-loader';

export interface MigrationEntry {
  'migrationId'?: (string);
  'role'?: (_ferry_v1_Role);
  'container'?: (string);
  'containerId'?: (string);
  'peer'?: (string);
  'phase'?: (_ferry_v1_JournalPhase);
  'outcome'?: (string);
  'createdAt'?: (string);
  'updatedAt'?: (string);
  'phases'?: (_ferry_v1_PhaseTime)[];
  'downtimeMs'?: (number | string | Long);
  'reason'?: (string);
  '_downtimeMs'?: "downtimeMs";
}

export interface MigrationEntry__Output {
  'migrationId': (string);
  'role': (_ferry_v1_Role__Output);
  'container': (string);
  'containerId': (string);
  'peer': (string);
  'phase': (_ferry_v1_JournalPhase__Output);
  'outcome': (string);
  'createdAt': (string);
  'updatedAt': (string);
  'phases': (_ferry_v1_PhaseTime__Output)[];
  'downtimeMs'?: (number);
  'reason': (string);
  '_downtimeMs'?: "downtimeMs";
}
