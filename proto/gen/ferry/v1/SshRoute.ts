// Original file: proto/ferry.proto


export interface SshRoute {
  'host'?: (string);
  'port'?: (number);
  'user'?: (string);
}

export interface SshRoute__Output {
  'host': (string);
  'port': (number);
  'user': (string);
}
