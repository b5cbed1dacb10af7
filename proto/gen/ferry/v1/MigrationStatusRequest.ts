// Original file: proto/ferry.proto


export interface MigrationStatusRequest {
  'migrationId'?: (string);
}

export interface MigrationStatusRequest__Output {
  'migrationId': (string);
}
