// Original file: proto/ferry.proto


export interface CordonState {
  'cordoned'?: (boolean);
  'reason'?: (string);
  'since'?: (string);
}

export interface CordonState__Output {
  'cordoned': (boolean);
  'reason': (string);
  'since': (string);
}
