// Original file: proto/ferry.proto


export interface ParkRequest {
  'containers'?: (string)[];
}

export interface ParkRequest__Output {
  'containers': (string)[];
}
