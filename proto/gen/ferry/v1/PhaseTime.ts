// Original file: proto/ferry.proto

import type { JournalPhase as _ferry_v1_JournalPhase, JournalPhase__Output as _ferry_v1_JournalPhase__Output } from '../../ferry/v1/JournalPhase';

export interface PhaseTime {
  'phase'?: (_ferry_v1_JournalPhase);
  'at'?: (string);
}

export interface PhaseTime__Output {
  'phase': (_ferry_v1_JournalPhase__Output);
  'at': (string);
}
