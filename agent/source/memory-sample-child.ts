// The child process of memory-sample.ts: samples one process's memory (its pid is the argument)
// and prints what it found as one line of JSON.
import { sample } from './memory-sample.ts';

const pid = Number(process.argv[2]);
if (!Number.isSafeInteger(pid) || pid <= 0) {
  process.stderr.write(`memory-sample-child: a process ID, not ${JSON.stringify(process.argv[2])}\n`);
  process.exit(2);
}
process.stdout.write(`${JSON.stringify(await sample(pid))}\n`);
