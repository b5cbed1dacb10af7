// Original file: proto/ferry.proto


export interface ProbeRequest {
  'migrationId'?: (string);
  'payload'?: (Buffer | Uint8Array | string);
}

export interface ProbeRequest__Output {
  'migrationId': (string);
  'payload': (Buffer);
}
