// The worker thread of memory-sample.ts: samples one process's memory and posts what it found.
import { parentPort, workerData } from 'node:worker_threads';
import { sample } from './memory-sample.ts';

const { pid } = workerData as { pid: number };
parentPort?.postMessage(await sample(pid));
