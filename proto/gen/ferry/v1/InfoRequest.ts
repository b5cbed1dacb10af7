// Original file: proto/ferry.proto


export interface InfoRequest {
}

export interface InfoRequest__Output {
}
