// Original file: proto/ferry.proto


export interface ListContainersRequest {
  'all'?: (boolean);
}

export interface ListContainersRequest__Output {
  'all': (boolean);
}
