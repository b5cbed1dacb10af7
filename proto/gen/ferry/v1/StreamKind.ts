// Original file: proto/ferry.proto


export type StreamKind =
  | 'STREAM_KIND_UNSPECIFIED'
  | 0
  | 'STREAM_KIND_CHECKPOINT'
  | 1
  | 'STREAM_KIND_IMAGE'
  | 2
  | 'STREAM_KIND_DATA'
  | 3
  | 'STREAM_KIND_PROBE'
  | 4
  | 'STREAM_KIND_PAGES'
  | 5

export type StreamKind__Output = 'STREAM_KIND_UNSPECIFIED' | 'STREAM_KIND_CHECKPOINT' | 'STREAM_KIND_IMAGE' | 'STREAM_KIND_DATA' | 'STREAM_KIND_PROBE' | 'STREAM_KIND_PAGES'
