// Original file: proto/ferry.proto


export interface Freezing {
  'validation'?: (string);
}

export interface Freezing__Output {
  'validation': (string);
}
