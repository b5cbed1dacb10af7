// Original file: proto/ferry.proto


export type OriginState =
  | 'ORIGIN_STATE_UNSPECIFIED'
  | 0
  | 'ORIGIN_STATE_HERE'
  | 1
  | 'ORIGIN_STATE_MOVED'
  | 2
  | 'ORIGIN_STATE_GONE'
  | 3

export type OriginState__Output = 'ORIGIN_STATE_UNSPECIFIED' | 'ORIGIN_STATE_HERE' | 'ORIGIN_STATE_MOVED' | 'ORIGIN_STATE_GONE'
