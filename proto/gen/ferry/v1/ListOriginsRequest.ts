// Original file: proto/ferry.proto


export interface ListOriginsRequest {
  'origin'?: (string);
  'forgetEnded'?: (boolean);
}

export interface ListOriginsRequest__Output {
  'origin': (string);
  'forgetEnded': (boolean);
}
