// Original file: proto/ferry.proto

import type { TransferHeader as _ferry_v1_TransferHeader, TransferHeader__Output as _ferry_v1_TransferHeader__Output } from '../../ferry/v1/TransferHeader';
import type { TransferData as _ferry_v1_TransferData, TransferData__Output as _ferry_v1_TransferData__Output } from '../../ferry/v1/TransferData';
import type { TransferTrailer as _ferry_v1_TransferTrailer, TransferTrailer__Output as _ferry_v1_TransferTrailer__Output } from '../../ferry/v1/TransferTrailer';

export interface TransferChunk {
  'header'?: (_ferry_v1_TransferHeader | null);
  'data'?: (_ferry_v1_TransferData | null);
  'trailer'?: (_ferry_v1_TransferTrailer | null);
  'part'?: "header"|"data"|"trailer";
}

export interface TransferChunk__Output {
  'header'?: (_ferry_v1_TransferHeader__Output | null);
  'data'?: (_ferry_v1_TransferData__Output | null);
  'trailer'?: (_ferry_v1_TransferTrailer__Output | null);
  'part'?: "header"|"data"|"trailer";
}
