// Original file: proto/ferry.proto


export interface Mount {
  'type'?: (string);
  'source'?: (string);
  'destination'?: (string);
  'name'?: (string);
  'readWrite'?: (boolean);
}

export interface Mount__Output {
  'type': (string);
  'source': (string);
  'destination': (string);
  'name': (string);
  'readWrite': (boolean);
}
