// Original file: proto/ferry.proto

import type { Checkpointed as _ferry_v1_Checkpointed, Checkpointed__Output as _ferry_v1_Checkpointed__Output } from '../../ferry/v1/Checkpointed';
import type { TransferProgress as _ferry_v1_TransferProgress, TransferProgress__Output as _ferry_v1_TransferProgress__Output } from '../../ferry/v1/TransferProgress';
import type { Transferred as _ferry_v1_Transferred, Transferred__Output as _ferry_v1_Transferred__Output } from '../../ferry/v1/Transferred';
import type { DataSynced as _ferry_v1_DataSynced, DataSynced__Output as _ferry_v1_DataSynced__Output } from '../../ferry/v1/DataSynced';
import type { ImageSent as _ferry_v1_ImageSent, ImageSent__Output as _ferry_v1_ImageSent__Output } from '../../ferry/v1/ImageSent';
import type { Retrying as _ferry_v1_Retrying, Retrying__Output as _ferry_v1_Retrying__Output } from '../../ferry/v1/Retrying';
import type { Freezing as _ferry_v1_Freezing, Freezing__Output as _ferry_v1_Freezing__Output } from '../../ferry/v1/Freezing';
import type { Dumped as _ferry_v1_Dumped, Dumped__Output as _ferry_v1_Dumped__Output } from '../../ferry/v1/Dumped';
import type { AddressReleased as _ferry_v1_AddressReleased, AddressReleased__Output as _ferry_v1_AddressReleased__Output } from '../../ferry/v1/AddressReleased';
import type { CompressionChosen as _ferry_v1_CompressionChosen, CompressionChosen__Output as _ferry_v1_CompressionChosen__Output } from '../../ferry/v1/CompressionChosen';

export interface MigrationEvent {
  'checkpointed'?: (_ferry_v1_Checkpointed | null);
  'progress'?: (_ferry_v1_TransferProgress | null);
  'transferred'?: (_ferry_v1_Transferred | null);
  'dataSynced'?: (_ferry_v1_DataSynced | null);
  'imageSent'?: (_ferry_v1_ImageSent | null);
  'retrying'?: (_ferry_v1_Retrying | null);
  'freezing'?: (_ferry_v1_Freezing | null);
  'dumped'?: (_ferry_v1_Dumped | null);
  'addressReleased'?: (_ferry_v1_AddressReleased | null);
  'compressionChosen'?: (_ferry_v1_CompressionChosen | null);
  'event'?: "checkpointed"|"progress"|"transferred"|"dataSynced"|"imageSent"|"retrying"|"freezing"|"dumped"|"addressReleased"|"compressionChosen";
}

export interface MigrationEvent__Output {
  'checkpointed'?: (_ferry_v1_Checkpointed__Output | null);
  'progress'?: (_ferry_v1_TransferProgress__Output | null);
  'transferred'?: (_ferry_v1_Transferred__Output | null);
  'dataSynced'?: (_ferry_v1_DataSynced__Output | null);
  'imageSent'?: (_ferry_v1_ImageSent__Output | null);
  'retrying'?: (_ferry_v1_Retrying__Output | null);
  'freezing'?: (_ferry_v1_Freezing__Output | null);
  'dumped'?: (_ferry_v1_Dumped__Output | null);
  'addressReleased'?: (_ferry_v1_AddressReleased__Output | null);
  'compressionChosen'?: (_ferry_v1_CompressionChosen__Output | null);
  'event'?: "checkpointed"|"progress"|"transferred"|"dataSynced"|"imageSent"|"retrying"|"freezing"|"dumped"|"addressReleased"|"compressionChosen";
}
