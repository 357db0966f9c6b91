import { readFileSync } from "node:fs";
import { describe } from "vitest";
import { SERVER_VERSION } from "../src/server.js";
import { VERSION } from "../src/version.js";
import { expect, test } from "./fixture.js";

const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };

describe("the version", () => {
  test("is package.json's, and the MCP server reports it", async ({ env }) => {
    expect(VERSION).toBe(version);
    expect(SERVER_VERSION).toBe(version);
    const client = await env.connect();
    expect(client.getServerVersion()).toMatchObject({ name: "agent-onboard", version });
  });
});
