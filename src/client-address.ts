import type { IncomingMessage } from "node:http";
import ipaddr from "ipaddr.js";
import proxyaddr from "proxy-addr";

/** Which hops in front of the server may say whom they forward for: proxy-addr's trust function. */
export type TrustProxy = (address: string, hop: number) => boolean;

/**
 * ONBOARD_TRUST_PROXY, parsed by config: `hops` trusts that many proxies
 * nearest the server, `addresses` those addresses, CIDR ranges and
 * proxy-addr's names (loopback, linklocal, uniquelocal). Neither: no proxy
 * is trusted and forwarding headers are ignored.
 */
export type TrustProxySetting = { hops: number } | { addresses: string[] } | undefined;

/** Throws on an address or range proxy-addr cannot read (config turns that into a one-line error). */
export function trustProxyFrom(setting: TrustProxySetting): TrustProxy {
  if (!setting) return () => false;
  if ("hops" in setting) return (_address, hop) => hop < setting.hops;
  return proxyaddr.compile(setting.addresses);
}

/** The `for=` hops of an RFC 7239 Forwarded header, nearest the client first, as X-Forwarded-For lists them. */
function forwardedFor(header: string): string[] {
  const hops: string[] = [];
  for (const element of header.split(",")) {
    for (const pair of element.split(";")) {
      const [key, value] = pair.split("=", 2).map((part) => part?.trim() ?? "");
      if (key?.toLowerCase() !== "for" || !value) continue;
      const unquoted = value.replace(/^"(.*)"$/, "$1");
      // [v6]:port, [v6], v4:port or v4; obfuscated names ("unknown", "_hidden") are kept and never match a trust rule.
      const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(unquoted);
      hops.push(bracketed ? bracketed[1]! : unquoted.replace(/^([\d.]+):\d+$/, "$1"));
    }
  }
  return hops;
}

/**
 * The address a request came from: the socket's peer, or, through proxies
 * that `trust` names, the nearest hop of X-Forwarded-For (or, without it,
 * Forwarded) that is not one of them.
 */
export function clientAddress(req: IncomingMessage, trust: TrustProxy): string {
  const xForwardedFor = req.headers["x-forwarded-for"];
  const forwarded = req.headers.forwarded;
  const chain = xForwardedFor ?? (forwarded ? forwardedFor(forwarded).join(", ") : undefined);
  const view = { headers: chain === undefined ? {} : { "x-forwarded-for": chain }, socket: req.socket, connection: req.socket };
  return proxyaddr(view as unknown as IncomingMessage, trust) || "unknown";
}

/**
 * What per-address limits count: an IPv4 address, or the /64 of an IPv6 one
 * (a household or a server usually gets a whole /64, so counting single
 * addresses would let one client take 2^64 shares). IPv4-mapped IPv6 counts
 * as IPv4.
 */
export function addressBucket(address: string): string {
  if (!ipaddr.isValid(address)) return address;
  const parsed = ipaddr.process(address);
  if (parsed.kind() === "ipv4") return parsed.toString();
  const parts = (parsed as ipaddr.IPv6).parts.slice(0, 4);
  return `${parts.map((part) => part.toString(16)).join(":")}::/64`;
}
