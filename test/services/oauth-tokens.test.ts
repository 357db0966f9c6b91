import { describe } from "vitest";
import { revokeOAuthGrant, saveOAuthRecord } from "../../src/services/oauth-records.js";
import { authenticateOAuth } from "../../src/services/oauth-tokens.js";
import { expect, signUp, test, type TestEnv } from "../fixture.js";

const RESOURCE = "http://127.0.0.1:8787/mcp";
const TOKEN = "Qm9vdHN0cmFwcGVkLXRva2VuLWZvci10ZXN0cy0xMjM";

/** A grant for a new agent's account and one access token of it, as the authorization server stores them. */
async function grantedToken(env: TestEnv, { aud = RESOURCE, scope = "mcp mcp:read" } = {}) {
  const { signup } = await signUp(env);
  const accountId = signup.userInfo.id as string;
  const now = env.clock.now();
  await saveOAuthRecord(env.deps.db, "Grant", "grant-1", { jti: "grant-1", kind: "Grant", accountId, clientId: "host" }, 3600, now);
  await saveOAuthRecord(env.deps.db, "AccessToken", TOKEN, { jti: TOKEN, kind: "AccessToken", grantId: "grant-1", accountId, aud, scope }, 3600, now);
  return accountId;
}

describe("authenticateOAuth", () => {
  test("a token of a live grant acts as its account, with every tool for `mcp`", async ({ env }) => {
    const accountId = await grantedToken(env);
    const caller = await authenticateOAuth(env.deps, TOKEN, RESOURCE);
    expect(caller.user.uid).toBe(accountId);
    expect(caller.readOnly).toBe(false);
  });

  test("a token granted `mcp:read` alone is read-only", async ({ env }) => {
    await grantedToken(env, { scope: "mcp:read" });
    expect((await authenticateOAuth(env.deps, TOKEN, RESOURCE)).readOnly).toBe(true);
  });

  test("a token issued for another resource is refused here (RFC 8707)", async ({ env }) => {
    await grantedToken(env, { aud: "https://elsewhere.example/mcp" });
    await expect(authenticateOAuth(env.deps, TOKEN, RESOURCE)).rejects.toThrow(/issued for another resource, not http:\/\/127\.0\.0\.1:8787\/mcp/);
  });

  test("a token of a disconnected host, or one past its hour, is refused with what to do", async ({ env }) => {
    await grantedToken(env);
    env.clock.advance(3_600_000);
    await expect(authenticateOAuth(env.deps, TOKEN, RESOURCE)).rejects.toThrow(/unknown, expired or revoked\. Connect the host again/);
    env.clock.advance(-3_600_000);
    await revokeOAuthGrant(env.deps.db, "grant-1");
    await expect(authenticateOAuth(env.deps, TOKEN, RESOURCE)).rejects.toThrow(/unknown, expired or revoked/);
  });
});
