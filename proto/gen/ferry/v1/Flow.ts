// Original file: proto/ferry.proto


export interface Flow {
  'client'?: (string);
  'clientPort'?: (number);
  'address'?: (string);
  'port'?: (number);
  'containerIp'?: (string);
  'containerPort'?: (number);
}

export interface Flow__Output {
  'client': (string);
  'clientPort': (number);
  'address': (string);
  'port': (number);
  'containerIp': (string);
  'containerPort': (number);
}
