// Original file: proto/ferry.proto


export interface RollbackReply {
  'outcome'?: (string);
}

export interface RollbackReply__Output {
  'outcome': (string);
}
