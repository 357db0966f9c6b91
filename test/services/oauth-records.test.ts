import { describe } from "vitest";
import {
  consumeOAuthRecord,
  findOAuthRecord,
  forgetExpiredOAuthRecords,
  revokeOAuthGrant,
  saveOAuthRecord,
} from "../../src/services/oauth-records.js";
import { expect, test } from "../fixture.js";

const TOKEN = "k1dGmT0q0Yx2M4lUq8m8wPZbH7sd1V3b1XyQhC9aFz0";

describe("the authorization server's storage", () => {
  test("a code or token is kept under a hash, and its value is nowhere in the table", async ({ env }) => {
    const now = env.clock.now();
    await saveOAuthRecord(env.deps.db, "AccessToken", TOKEN, { jti: TOKEN, kind: "AccessToken", grantId: "g1", accountId: "u1" }, 3600, now);
    const rows = await env.deps.db.select().from(env.deps.db.tables.oauthRecords);
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(TOKEN);
    expect(await findOAuthRecord(env.deps.db, "AccessToken", TOKEN, now)).toMatchObject({ jti: TOKEN, grantId: "g1", accountId: "u1" });
    expect(await findOAuthRecord(env.deps.db, "AccessToken", TOKEN.slice(1), now)).toBeUndefined();
  });

  test("a record past its expiry is not found, and the sweep forgets it while keeping the others", async ({ env }) => {
    const now = env.clock.now();
    await saveOAuthRecord(env.deps.db, "AuthorizationCode", "short", { jti: "short", kind: "AuthorizationCode" }, 60, now);
    await saveOAuthRecord(env.deps.db, "RefreshToken", "long", { jti: "long", kind: "RefreshToken" }, 86_400, now);
    env.clock.advance(60_000);
    expect(await findOAuthRecord(env.deps.db, "AuthorizationCode", "short", env.clock.now())).toBeUndefined();
    expect(await forgetExpiredOAuthRecords(env.deps)).toBe(1);
    expect(await findOAuthRecord(env.deps.db, "RefreshToken", "long", env.clock.now())).toMatchObject({ jti: "long" });
  });

  test("a consumed code reads as consumed, which is how a second use is told from the first", async ({ env }) => {
    const now = env.clock.now();
    await saveOAuthRecord(env.deps.db, "AuthorizationCode", "code", { jti: "code", kind: "AuthorizationCode" }, 60, now);
    expect((await findOAuthRecord(env.deps.db, "AuthorizationCode", "code", now))?.consumed).toBeUndefined();
    await consumeOAuthRecord(env.deps.db, "AuthorizationCode", "code", now);
    expect((await findOAuthRecord(env.deps.db, "AuthorizationCode", "code", now))?.consumed).toBe(Math.floor(now.getTime() / 1000));
  });

  test("revoking a grant ends it with its codes and tokens, and leaves other grants alone", async ({ env }) => {
    const now = env.clock.now();
    await saveOAuthRecord(env.deps.db, "Grant", "g1", { jti: "g1", kind: "Grant", accountId: "u1" }, 3600, now);
    await saveOAuthRecord(env.deps.db, "AccessToken", "a1", { jti: "a1", kind: "AccessToken", grantId: "g1" }, 3600, now);
    await saveOAuthRecord(env.deps.db, "RefreshToken", "r1", { jti: "r1", kind: "RefreshToken", grantId: "g1" }, 3600, now);
    await saveOAuthRecord(env.deps.db, "AccessToken", "a2", { jti: "a2", kind: "AccessToken", grantId: "g2" }, 3600, now);
    await revokeOAuthGrant(env.deps.db, "g1");
    for (const [model, id] of [["Grant", "g1"], ["AccessToken", "a1"], ["RefreshToken", "r1"]] as const) {
      expect(await findOAuthRecord(env.deps.db, model, id, now), `${model} ${id}`).toBeUndefined();
    }
    expect(await findOAuthRecord(env.deps.db, "AccessToken", "a2", now)).toMatchObject({ grantId: "g2" });
  });
});
