import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Debian's nginx, or NGINX_BIN; `.ci/run` installs it where it is missing. */
const NGINX = process.env.NGINX_BIN ?? "/usr/sbin/nginx";

export interface LoadBalancer {
  /** e.g. http://127.0.0.1:41235 */
  url: string;
  port: number;
  /** Starts nginx in front of `upstreams` (origins such as http://127.0.0.1:4100). */
  start(upstreams: string[]): Promise<void>;
  stop(): Promise<void>;
}

/** A free loopback port, known before the servers behind it start (their public URL names it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
    probe.on("error", reject);
  });
}

/**
 * nginx as a plain round-robin load balancer, no stickiness, started with a
 * generated configuration in a folder of its own. A server that refuses
 * connections is skipped (passive health check) and the request goes to the
 * next one: nothing was sent to the dead one, so even a POST is safe to move.
 */
export async function loadBalancer(): Promise<LoadBalancer> {
  if (!existsSync(NGINX)) throw new Error(`nginx not found at ${NGINX}: apt-get install nginx (as .ci/run does), or set NGINX_BIN`);
  const port = await freePort();
  const prefix = mkdtempSync(join(tmpdir(), "onboard-nginx-"));
  let child: ChildProcess | undefined;
  let stderr = "";
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    async start(upstreams) {
      for (const folder of ["logs", "temp"]) mkdirSync(join(prefix, folder), { recursive: true });
      const servers = upstreams.map((origin) => `    server ${new URL(origin).host} max_fails=1 fail_timeout=30s;`).join("\n");
      writeFileSync(
        join(prefix, "nginx.conf"),
        `worker_processes 1;
error_log ${prefix}/logs/error.log warn;
pid ${prefix}/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${prefix}/temp/body;
  proxy_temp_path ${prefix}/temp/proxy;
  fastcgi_temp_path ${prefix}/temp/fastcgi;
  uwsgi_temp_path ${prefix}/temp/uwsgi;
  scgi_temp_path ${prefix}/temp/scgi;
  upstream onboard {
${servers}
    keepalive 32;
    # Below Node's 5 s keep-alive timeout, so nginx drops an idle connection before the instance does;
    # otherwise a request nginx sends just as the instance closes one fails, and a POST is not retried (502).
    keepalive_timeout 4s;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://onboard;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_buffering off;
      proxy_connect_timeout 2s;
      proxy_read_timeout 30s;
      proxy_next_upstream error timeout;
    }
  }
}
`,
      );
      child = spawn(NGINX, ["-p", prefix, "-c", join(prefix, "nginx.conf"), "-g", "daemon off;"], { stdio: ["ignore", "ignore", "pipe"] });
      child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      const deadline = Date.now() + 10_000;
      for (;;) {
        if (child.exitCode !== null) throw new Error(`nginx exited (${child.exitCode}): ${stderr}`);
        const up = await fetch(`http://127.0.0.1:${port}/`).then(
          () => true,
          () => false,
        );
        if (up) return;
        if (Date.now() > deadline) throw new Error(`nginx did not listen on ${port} within 10 s: ${stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async stop() {
      if (!child || child.exitCode !== null) return;
      const exited = new Promise((resolve) => child!.once("exit", resolve));
      child.kill("SIGQUIT");
      const killer = setTimeout(() => child?.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(killer);
    },
  };
}
