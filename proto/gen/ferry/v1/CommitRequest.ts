// Original file: proto/ferry.proto


export interface CommitRequest {
  'migrationId'?: (string);
}

export interface CommitRequest__Output {
  'migrationId': (string);
}
