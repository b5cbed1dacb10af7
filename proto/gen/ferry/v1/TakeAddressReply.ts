// Original file: proto/ferry.proto


export interface TakeAddressReply {
}

export interface TakeAddressReply__Output {
}
