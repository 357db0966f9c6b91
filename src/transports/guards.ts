import type { NextFunction, Request, Response } from "express";
import type { Config } from "../config.js";

const loopbackNames = ["localhost", "127.0.0.1", "[::1]"];

/** The Host header values this server answers to: its public URL's host and, on loopback, the loopback names. */
export function allowedHosts(config: Config, publicUrl: string, port: number): Set<string> {
  const hosts = new Set<string>([new URL(publicUrl).host]);
  const bound = config.host.includes(":") ? `[${config.host}]` : config.host;
  for (const name of [bound, ...loopbackNames]) {
    hosts.add(`${name}:${port}`);
    if (port === 80) hosts.add(name);
  }
  return hosts;
}

/** Origins a browser may call /mcp from: this server's own, and ONBOARD_ALLOWED_ORIGINS. */
export function allowedOrigins(config: Config, publicUrl: string, hosts: Set<string>): Set<string> {
  const origins = new Set<string>([new URL(publicUrl).origin, ...config.allowedOrigins]);
  for (const host of hosts) origins.add(`http://${host}`);
  return origins;
}

/**
 * DNS-rebinding protection: a foreign Host or Origin is refused before any
 * work. `refusePage` answers for the human pages, with a page of their own.
 */
export function rebindingGuard(hosts: Set<string>, origins: Set<string>, refusePage: (req: Request, res: Response) => boolean = () => false) {
  return (req: Request, res: Response, next: NextFunction) => {
    const host = req.headers.host?.toLowerCase();
    if (!host || !hosts.has(host)) {
      res.status(403).json({ code: 403, name: "NoAccessError", message: `Host "${host ?? ""}" is not allowed.` });
      return;
    }
    const origin = req.headers.origin;
    if (origin !== undefined && !origins.has(origin)) {
      if (refusePage(req, res)) return;
      res.status(403).json({
        code: 403,
        name: "NoAccessError",
        message: `Origin "${origin}" is not allowed; add it to ONBOARD_ALLOWED_ORIGINS to let that page call this server.`,
      });
      return;
    }
    next();
  };
}
