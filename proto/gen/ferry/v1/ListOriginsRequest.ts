// Original file: proto/ferry.proto


export interface ListOriginsRequest {
  'origin'?: (string);
}

export interface ListOriginsRequest__Output {
  'origin': (string);
}
