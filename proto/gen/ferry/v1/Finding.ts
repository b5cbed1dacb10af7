// Original file: proto/ferry.proto


export interface Finding {
  'code'?: (string);
  'process'?: (string);
  'file'?: (string);
  'detail'?: (string);
  'fix'?: (string);
}

export interface Finding__Output {
  'code': (string);
  'process': (string);
  'file': (string);
  'detail': (string);
  'fix': (string);
}
