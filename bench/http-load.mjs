// A load generator in a worker thread of its own: `clients` concurrent
// keep-alive connections, each sending its prepared MCP request back to back
// for `durationMs`. Plain node:http, so that the generator costs the cores
// as little as it can and the servers' speed is what is measured.
import http from "node:http";
import { parentPort, workerData } from "node:worker_threads";

const { url, host, requests, clients, durationMs } = workerData;
const target = new URL(url);
const agent = new http.Agent({ keepAlive: true, maxSockets: clients });

function send(request) {
  return new Promise((resolve) => {
    const req = http.request(
      { agent, hostname: target.hostname, port: target.port, path: target.pathname, method: "POST", headers: { ...request.headers, host } },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk) => (body += chunk));
        res.on("end", () => resolve(res.statusCode === 200 && !body.includes('"isError":true')));
        res.on("error", () => resolve(false));
      },
    );
    req.on("error", () => resolve(false));
    req.end(request.body);
  });
}

let calls = 0;
let failures = 0;
const started = performance.now();
const deadline = started + durationMs;
await Promise.all(
  Array.from({ length: clients }, async (_, i) => {
    const request = requests[i % requests.length];
    while (performance.now() < deadline) {
      if (await send(request)) calls++;
      else failures++;
    }
  }),
);
const elapsedMs = performance.now() - started;
agent.destroy();
parentPort.postMessage({ calls, failures, elapsedMs });
