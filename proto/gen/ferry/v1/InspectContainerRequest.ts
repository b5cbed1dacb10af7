// Original file: proto/ferry.proto


export interface InspectContainerRequest {
  'container'?: (string);
}

export interface InspectContainerRequest__Output {
  'container': (string);
}
