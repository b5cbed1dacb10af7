// Original file: proto/ferry.proto


export type Compression =
  | 'COMPRESSION_UNSPECIFIED'
  | 0
  | 'COMPRESSION_NONE'
  | 1
  | 'COMPRESSION_GZIP'
  | 2
  | 'COMPRESSION_ZSTD'
  | 3
  | 'COMPRESSION_AUTO'
  | 4

export type Compression__Output = 'COMPRESSION_UNSPECIFIED' | 'COMPRESSION_NONE' | 'COMPRESSION_GZIP' | 'COMPRESSION_ZSTD' | 'COMPRESSION_AUTO'
