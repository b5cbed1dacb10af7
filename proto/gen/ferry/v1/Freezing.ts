// Original file: proto/ferry.proto


export interface Freezing {
  'validation'?: (string);
  'fileLocks'?: (boolean);
}

export interface Freezing__Output {
  'validation': (string);
  'fileLocks': (boolean);
}
