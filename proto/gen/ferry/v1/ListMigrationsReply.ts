// Original file: proto/ferry.proto

import type { MigrationEntry as _ferry_v1_MigrationEntry, MigrationEntry__Output as _ferry_v1_MigrationEntry__Output } from '../../ferry/v1/MigrationEntry';

export interface ListMigrationsReply {
  'migrations'?: (_ferry_v1_MigrationEntry)[];
}

export interface ListMigrationsReply__Output {
  'migrations': (_ferry_v1_MigrationEntry__Output)[];
}
