import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { AppError } from "../errors.js";

export interface ScryptOptions {
  N: number;
  r: number;
  p: number;
  maxmem: number;
}

/**
 * scrypt on worker threads of its own, one fewer than the cores (at least
 * one). On libuv's pool, which WebCrypto and file I/O share, a burst of
 * password hashes queued every other caller's work behind them; here they
 * wait their turn among themselves, and at most `QUEUE_LIMIT` of them.
 */
const WORKERS = Math.max(1, availableParallelism() - 1);
const QUEUE_LIMIT = 200;

// Plain CommonJS, evaluated: no file to find beside the compiled code or under the test runner.
const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
const { scryptSync } = require("node:crypto");
parentPort.on("message", ({ id, password, salt, keylen, options }) => {
  try {
    const key = scryptSync(password, Buffer.from(salt), keylen, options);
    parentPort.postMessage({ id, key });
  } catch (error) {
    parentPort.postMessage({ id, error: String(error && error.message) });
  }
});
`;

interface Job {
  id: number;
  message: { password: string; salt: Uint8Array; keylen: number; options: ScryptOptions };
  resolve(key: Buffer): void;
  reject(error: Error): void;
}

const idle: Worker[] = [];
const busy = new Map<Worker, Job>();
const queue: Job[] = [];
let workers = 0;
let nextId = 0;

function startWorker(): Worker {
  const worker = new Worker(WORKER_SOURCE, { eval: true });
  worker.on("message", ({ id, key, error }: { id: number; key?: Uint8Array; error?: string }) => {
    const job = busy.get(worker);
    busy.delete(worker);
    if (job?.id === id) {
      if (error !== undefined) job.reject(new Error(`scrypt failed: ${error}`));
      else job.resolve(Buffer.from(key!));
    }
    dispatch(worker);
  });
  worker.on("error", (error) => {
    const job = busy.get(worker);
    busy.delete(worker);
    workers--;
    job?.reject(error);
    if (queue.length) dispatch(startWorker());
  });
  workers++;
  return worker;
}

function dispatch(worker: Worker) {
  const job = queue.shift();
  if (!job) {
    worker.unref(); // an idle pool never keeps the process alive
    idle.push(worker);
    return;
  }
  busy.set(worker, job);
  worker.ref(); // a hash in flight keeps the process up until it answers
  worker.postMessage({ id: job.id, ...job.message });
}

/** scrypt off the event loop and off libuv's pool; refused (rate_limited) when too many already wait. */
export function scryptInPool(password: string, salt: Buffer, keylen: number, options: ScryptOptions): Promise<Buffer> {
  if (queue.length >= QUEUE_LIMIT) {
    return Promise.reject(new AppError("rate_limited", "Too many passwords are being checked right now. Try again in a few seconds.", { retryAfterSeconds: 5 }));
  }
  return new Promise<Buffer>((resolve, reject) => {
    queue.push({ id: nextId++, message: { password, salt, keylen, options }, resolve, reject });
    const worker = idle.pop() ?? (workers < WORKERS ? startWorker() : undefined);
    if (worker) dispatch(worker);
  });
}
