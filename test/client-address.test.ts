import type { IncomingMessage } from "node:http";
import { describe, expect, test } from "vitest";
import { addressBucket, clientAddress, trustProxyFrom } from "../src/client-address.js";
import { ConfigError, loadConfig } from "../src/config.js";

const request = (peer: string, headers: Record<string, string> = {}) =>
  ({ headers, socket: { remoteAddress: peer } }) as unknown as IncomingMessage;

describe("clientAddress", () => {
  test("without trusted proxies the peer is the client, whatever the forwarding headers claim", () => {
    const trust = trustProxyFrom(undefined);
    expect(clientAddress(request("203.0.113.9", { "x-forwarded-for": "198.51.100.1" }), trust)).toBe("203.0.113.9");
    expect(clientAddress(request("203.0.113.9", { forwarded: "for=198.51.100.1" }), trust)).toBe("203.0.113.9");
  });

  test("through a trusted proxy it is the nearest hop the proxy names, never one the client wrote in front", () => {
    const trust = trustProxyFrom({ addresses: ["loopback"] });
    // The client sent "X-Forwarded-For: 1.2.3.4"; the proxy at 127.0.0.1 appended the address it saw.
    expect(clientAddress(request("127.0.0.1", { "x-forwarded-for": "1.2.3.4, 198.51.100.1" }), trust)).toBe("198.51.100.1");
    // A peer that is no trusted proxy is the client itself.
    expect(clientAddress(request("203.0.113.9", { "x-forwarded-for": "198.51.100.1" }), trust)).toBe("203.0.113.9");
  });

  test("reads RFC 7239 Forwarded, with quoted IPv6, ports and other parameters", () => {
    const trust = trustProxyFrom({ addresses: ["10.0.0.0/8"] });
    const header = 'for=192.0.2.43;proto=https, for="[2001:db8:cafe::17]:4711";by=10.0.0.2';
    expect(clientAddress(request("10.0.0.2", { forwarded: header }), trust)).toBe("2001:db8:cafe::17");
    expect(clientAddress(request("10.0.0.2", { forwarded: "for=192.0.2.60:8080" }), trust)).toBe("192.0.2.60");
  });

  test("a hop count trusts that many proxies nearest the server", () => {
    const trust = trustProxyFrom({ hops: 2 });
    expect(clientAddress(request("10.0.0.1", { "x-forwarded-for": "6.6.6.6, 198.51.100.1, 10.0.0.9" }), trust)).toBe("198.51.100.1");
  });
});

describe("addressBucket", () => {
  test("keeps IPv4, cuts IPv6 to its /64 and reads IPv4-mapped IPv6 as IPv4", () => {
    expect(addressBucket("192.0.2.1")).toBe("192.0.2.1");
    expect(addressBucket("2001:db8:0:1:aaaa::1")).toBe("2001:db8:0:1::/64");
    expect(addressBucket("2001:0db8:0000:0001:ffff:ffff:ffff:ffff")).toBe("2001:db8:0:1::/64");
    expect(addressBucket("::ffff:192.0.2.1")).toBe("192.0.2.1");
    expect(addressBucket("unknown")).toBe("unknown");
  });
});

describe("ONBOARD_TRUST_PROXY", () => {
  test("takes a hop count, addresses, ranges and names, or turns trust off", () => {
    expect(loadConfig({}).trustProxy).toBeUndefined();
    expect(loadConfig({ ONBOARD_TRUST_PROXY: "false" }).trustProxy).toBeUndefined();
    expect(loadConfig({ ONBOARD_TRUST_PROXY: "1" }).trustProxy).toEqual({ hops: 1 });
    expect(loadConfig({ ONBOARD_TRUST_PROXY: "loopback, 10.0.0.0/8, 192.0.2.5" }).trustProxy).toEqual({
      addresses: ["loopback", "10.0.0.0/8", "192.0.2.5"],
    });
  });

  test("a value it cannot read is a one-line error naming the variable", () => {
    expect(() => loadConfig({ ONBOARD_TRUST_PROXY: "everyone" })).toThrow(ConfigError);
    expect(() => loadConfig({ ONBOARD_TRUST_PROXY: "10.0.0.0/99" })).toThrow(/^ONBOARD_TRUST_PROXY: must be a number of proxies/);
  });
});
