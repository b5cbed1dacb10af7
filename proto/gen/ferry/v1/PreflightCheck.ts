// Original file: proto/ferry.proto


export interface PreflightCheck {
  'name'?: (string);
  'ok'?: (boolean);
  'detail'?: (string);
  'warning'?: (boolean);
}

export interface PreflightCheck__Output {
  'name': (string);
  'ok': (boolean);
  'detail': (string);
  'warning': (boolean);
}
