// Original file: proto/ferry.proto


export interface InspectContainerRequest {
  'container'?: (string);
  'examine'?: (boolean);
}

export interface InspectContainerRequest__Output {
  'container': (string);
  'examine': (boolean);
}
