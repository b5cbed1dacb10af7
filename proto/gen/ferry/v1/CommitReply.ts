// Original file: proto/ferry.proto


export interface CommitReply {
  'outcome'?: (string);
}

export interface CommitReply__Output {
  'outcome': (string);
}
