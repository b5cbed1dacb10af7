import { writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { agentClient } from '/work/main/common/rpc.ts';
import { sendArchive } from '/work/main/agent/transfer/send.ts';
writeFileSync('/tmp/tp/src.bin', randomBytes(256 * 1024 * 1024));
const client = agentClient(`127.0.0.1:7555`);
for (let i = 0; i < 2; i++) {
  const t = performance.now();
  const r = await sendArchive({ path: '/tmp/tp/src.bin', migrationId: 'm', sourceHost: 's', destinationHost: 'd', client });
  console.log(`${(r.bytes / 1048576 / ((performance.now() - t) / 1000)).toFixed(0)} MiB/s`);
}
process.exit(0);
