// What the link between two lab hosts carries, run inside a host's namespaces (scripts/lab exec):
//   tls-recv PORT [FILE] | tls-send HOST PORT MIB [FILE]
//                                               one mutual-TLS TCP stream: memory to nowhere (the
//                                               link itself), or a file to a file (link and disks)
//   ferry-recv PORT FILE | ferry-send HOST PORT FILE [MIB]
//                                               Ferry's data plane (frames, CRC-32, SHA-256, batched
//                                               writes), same certificates; FILE may be /dev/null
//                                               to receive and /dev/zero (with MIB) to send
//   pipe-recv PORT FILE | pipe-send HOST PORT FILE
//                                               plain TCP, a file to a file: the manual pipeline's pipe
// Options: --pki DIR (the lab's CA), --me NAME, --peer NAME. Prints one JSON line: {bytes, ms}.
import { createReadStream, createWriteStream, readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { once as emitted } from 'node:events';
import { connect as netConnect, createServer as netServer } from 'node:net';
import { connect as tlsConnect, createServer as tlsServer } from 'node:tls';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { DataConnection } from '../../agent/dataplane/client.ts';
import { DataServer } from '../../agent/dataplane/server.ts';
import { BufferPool } from '../../agent/dataplane/pool.ts';
import { readRange } from '../../agent/source/pages.ts';
import { silentLogger } from '../../agent/log.ts';
import { fileTarget } from '../../agent/transfer/targets.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { pki: { type: 'string', default: '' }, me: { type: 'string', default: '' }, peer: { type: 'string', default: '' } },
});
const [mode, ...args] = positionals;
const tls = () => {
  const read = (file: string) => readFileSync(`${values.pki}/${file}`);
  return { ca: read('ca.pem'), cert: read(`${values.me}.pem`), key: read(`${values.me}.key`) };
};
const report = (bytes: number, started: number) => process.stdout.write(`${JSON.stringify({ bytes, ms: Math.round(performance.now() - started) })}\n`);

/** The bytes a sender reads from FILE: MIB of them when given (FILE may be /dev/zero), else the whole file. */
const sizeOf = async (file: string, mib?: string) => (mib ? Number(mib) * 1024 * 1024 : (await stat(file)).size);

/** Serves one connection, then exits. */
function once(server: { listen(port: number, host: string, done: () => void): unknown; close(): unknown }, port: string): void {
  server.listen(Number(port), '0.0.0.0', () => process.stdout.write('listening\n'));
}

switch (mode) {
  case 'tls-recv': {
    const [port, file] = args;
    const server = tlsServer({ ...tls(), requestCert: true, rejectUnauthorized: true }, (socket) => {
      let bytes = 0;
      const started = performance.now();
      const counted = (chunk: Buffer) => (bytes += chunk.length);
      socket.on('data', counted);
      const done = () => {
        report(bytes, started);
        socket.end();
        server.close();
      };
      if (file) void pipeline(socket, createWriteStream(file, { highWaterMark: 1024 * 1024 })).then(done);
      else socket.on('end', done);
    });
    once(server, port ?? '0');
    break;
  }
  case 'tls-send': {
    const [host, port, mib, file] = args;
    const send = async () => {
      if (file) {
        // The same pooled reads as the data plane's sender below: the two differ by the link's
        // protocol only.
        const pool = new BufferPool(1024 * 1024, 4);
        for await (const chunk of readRange(file, 0, await sizeOf(file), pool, undefined)) {
          if (!socket.write(chunk, () => pool.give(chunk))) await emitted(socket, 'drain'); // rejects if the socket fails instead
        }
        socket.end();
        return;
      }
      const chunk = Buffer.alloc(1024 * 1024, 0x5a);
      for (let i = 0; i < Number(mib); i += 1) if (!socket.write(chunk)) await emitted(socket, 'drain');
      socket.end();
    };
    const socket = tlsConnect({ ...tls(), host, port: Number(port), servername: values.peer }, () => {
      send().catch((error: unknown) => {
        console.error(error);
        process.exit(1);
      });
    });
    socket.on('data', () => {});
    break;
  }
  case 'ferry-recv': {
    const [port, file] = args;
    const server: DataServer = new DataServer({
      tls: tls(),
      log: silentLogger,
      accept: async () => {
        const started = performance.now();
        return {
          label: 'bench',
          totalBytes: -1,
          target: await fileTarget(file ?? '/dev/null'),
          complete: async ({ bytes }) => {
            report(bytes, started);
            setImmediate(() => void server.close());
          },
          release: () => {},
        };
      },
    });
    void server.listen('0.0.0.0', Number(port)).then(() => process.stdout.write('listening\n'));
    break;
  }
  case 'ferry-send': {
    const [host, port, file, mib] = args;
    const connection = await DataConnection.open({ host: host ?? '', port: Number(port), name: values.peer }, tls(), 'bench');
    // Read as the agent's archive and pages streams read: into four pooled buffers that take
    // turns, not a fresh buffer per read (on a machine whose page faults are dear, fresh buffers
    // alone cost the sender 3 s of system time a GiB).
    const pool = new BufferPool(1024 * 1024, 4);
    await connection.send({ source: readRange(file ?? '', 0, await sizeOf(file ?? '', mib), pool, undefined), pool });
    break;
  }
  case 'pipe-recv': {
    const [port, file] = args;
    const server = netServer((socket) => {
      const started = performance.now();
      let bytes = 0;
      socket.on('data', (chunk: Buffer) => (bytes += chunk.length));
      void pipeline(socket, createWriteStream(file ?? '/dev/null')).then(() => {
        report(bytes, started);
        server.close();
      });
    });
    once(server, port ?? '0');
    break;
  }
  case 'pipe-send': {
    const [host, port, file] = args;
    const socket = netConnect({ host, port: Number(port) });
    await pipeline(createReadStream(file ?? '', { highWaterMark: 1024 * 1024 }), socket);
    break;
  }
  default:
    process.stderr.write('usage: link.ts tls-recv|tls-send|ferry-recv|ferry-send|pipe-recv|pipe-send ARGS (see the top of this file)\n');
    process.exit(2);
}
