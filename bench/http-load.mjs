// A load generator in a worker thread of its own: `clients` concurrent
// keep-alive connections, each sending its prepared MCP request back to back
// for `durationMs`. The requests are written as ready-made HTTP/1.1 bytes on
// plain sockets and only the end of each answer is looked for, so that the
// generator takes as little of the cores as it can and what is measured is
// the servers' speed: node:http's client cost about a quarter of what a
// server spends on a call.
import net from "node:net";
import { parentPort, workerData } from "node:worker_threads";

const { url, host, requests, clients, durationMs } = workerData;
const target = new URL(url);
const HEADER_END = Buffer.from("\r\n\r\n");
const LAST_CHUNK = Buffer.from("\r\n0\r\n\r\n");

function encode(request) {
  const body = Buffer.from(request.body);
  const headers = { ...request.headers, host, "content-length": String(body.length), connection: "keep-alive" };
  const head = `POST ${target.pathname} HTTP/1.1\r\n${Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join("")}\r\n`;
  return Buffer.concat([Buffer.from(head), body]);
}

/** Reads whole answers off one socket: calls `done(ok)` for each, `ok` meaning 200 and not a tool error. */
function answers(socket, done) {
  let buffer = Buffer.alloc(0);
  socket.on("data", (chunk) => {
    buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk;
    for (;;) {
      const headerEnd = buffer.indexOf(HEADER_END);
      if (headerEnd < 0) return;
      const head = buffer.subarray(0, headerEnd).toString("latin1");
      const bodyStart = headerEnd + HEADER_END.length;
      const length = head.match(/\r\ncontent-length:\s*(\d+)/i);
      let end;
      if (length) {
        end = bodyStart + Number(length[1]);
        if (buffer.length < end) return;
      } else {
        const last = buffer.indexOf(LAST_CHUNK, bodyStart - 2);
        if (last < 0) return;
        end = last + LAST_CHUNK.length;
      }
      const ok = head.startsWith("HTTP/1.1 200") && !buffer.subarray(bodyStart, end).includes('"isError":true');
      buffer = buffer.subarray(end);
      done(ok);
    }
  });
}

/** One client: a connection that sends `bytes` again as soon as each answer is in, reconnecting when the server closes it (nginx does after keepalive_requests). */
function client(bytes, deadline) {
  return new Promise((resolve) => {
    let calls = 0;
    let failures = 0;
    const connect = () => {
      let waiting = false;
      const socket = net.connect({ host: target.hostname, port: Number(target.port), noDelay: true });
      const send = () => {
        waiting = true;
        socket.write(bytes);
      };
      answers(socket, (ok) => {
        waiting = false;
        if (ok) calls++;
        else failures++;
        if (performance.now() < deadline) send();
        else socket.destroy();
      });
      socket.on("connect", send);
      socket.on("error", () => {});
      socket.on("close", () => {
        if (waiting) failures++;
        if (performance.now() < deadline) connect();
        else resolve({ calls, failures });
      });
    };
    connect();
  });
}

const started = performance.now();
const deadline = started + durationMs;
const results = await Promise.all(Array.from({ length: clients }, (_, i) => client(encode(requests[i % requests.length]), deadline)));
const elapsedMs = performance.now() - started;
parentPort.postMessage({
  calls: results.reduce((sum, result) => sum + result.calls, 0),
  failures: results.reduce((sum, result) => sum + result.failures, 0),
  elapsedMs,
});
