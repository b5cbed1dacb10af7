// Original file: proto/ferry.proto


export interface RollbackRequest {
  'migrationId'?: (string);
  'reason'?: (string);
  'peerRolledBack'?: (boolean);
}

export interface RollbackRequest__Output {
  'migrationId': (string);
  'reason': (string);
  'peerRolledBack': (boolean);
}
