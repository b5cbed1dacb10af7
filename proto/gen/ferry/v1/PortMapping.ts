// Original file: proto/ferry.proto


export interface PortMapping {
  'hostPort'?: (number);
  'containerPort'?: (number);
  'protocol'?: (string);
  'hostIp'?: (string);
}

export interface PortMapping__Output {
  'hostPort': (number);
  'containerPort': (number);
  'protocol': (string);
  'hostIp': (string);
}
