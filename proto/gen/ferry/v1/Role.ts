// Original file: proto/ferry.proto


export type Role =
  | 'ROLE_UNSPECIFIED'
  | 0
  | 'ROLE_SOURCE'
  | 1
  | 'ROLE_DESTINATION'
  | 2

export type Role__Output = 'ROLE_UNSPECIFIED' | 'ROLE_SOURCE' | 'ROLE_DESTINATION'
