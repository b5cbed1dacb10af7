// Original file: proto/ferry.proto


export interface ListMigrationsRequest {
  'migrationId'?: (string);
  'limit'?: (number);
}

export interface ListMigrationsRequest__Output {
  'migrationId': (string);
  'limit': (number);
}
