// Original file: proto/ferry.proto


export interface CordonRequest {
  'cordoned'?: (boolean);
  'reason'?: (string);
}

export interface CordonRequest__Output {
  'cordoned': (boolean);
  'reason': (string);
}
