// Original file: proto/ferry.proto


export type UnitKind =
  | 'UNIT_KIND_UNSPECIFIED'
  | 0
  | 'UNIT_KIND_NEW'
  | 1
  | 'UNIT_KIND_EXISTING'
  | 2
  | 'UNIT_KIND_QUADLET'
  | 3
  | 'UNIT_KIND_OTHER'
  | 4

export type UnitKind__Output = 'UNIT_KIND_UNSPECIFIED' | 'UNIT_KIND_NEW' | 'UNIT_KIND_EXISTING' | 'UNIT_KIND_QUADLET' | 'UNIT_KIND_OTHER'
