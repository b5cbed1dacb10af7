import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ferryProto, serverOptions, toServiceError } from '/work/main/common/rpc.ts';
import { receiveArchive } from '/work/main/agent/transfer/receive.ts';
const dir = mkdtempSync('/tmp/tp/x');
const server = new grpc.Server(serverOptions());
let n = 0;
server.addService(ferryProto().ferry.v1.Agent.service, {
  Receive: (call: any, cb: any) => receiveArchive(call, async () => join(dir, `dst${n++}.bin`)).then((r) => cb(null, r), (e) => cb(toServiceError(e, 'd'))),
} as any);
await new Promise<number>((res) => server.bindAsync('127.0.0.1:7555', grpc.ServerCredentials.createInsecure(), (e, p) => res(p)));
if (process.env.WIN) {
  for (const [srv] of (server as any).http2Servers as Map<any, any>) srv.on('session', (s: any) => s.once('localSettings', () => { s.setLocalWindowSize(Number(process.env.WIN)); s.settings({ initialWindowSize: Number(process.env.WIN) }); }));
}
console.log('ready');
