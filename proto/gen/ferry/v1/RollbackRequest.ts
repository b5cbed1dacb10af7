// Original file: proto/ferry.proto


export interface RollbackRequest {
  'migrationId'?: (string);
  'reason'?: (string);
}

export interface RollbackRequest__Output {
  'migrationId': (string);
  'reason': (string);
}
