import { randomBytes } from "node:crypto";
import { decodeJwt, decodeProtectedHeader, SignJWT } from "jose";
import { describe } from "vitest";
import { agentSignup } from "../../src/services/accounts.js";
import type { Deps, SigningKeySetting } from "../../src/services/deps.js";
import { redeemRequestState, sealRequestState } from "../../src/services/request-states.js";
import { authenticate, signingKey } from "../../src/services/tokens.js";
import { expect, test } from "../fixture.js";

const key = (id: string): SigningKeySetting => ({ id, secret: new Uint8Array(randomBytes(32)) });
/** The same services with another key list, as a restarted server with a new ONBOARD_SIGNING_KEYS. */
const withKeys = (deps: Deps, signingKeys?: SigningKeySetting[]): Deps => ({ ...deps, settings: { ...deps.settings, signingKeys } });

describe("ONBOARD_SIGNING_KEYS", () => {
  test("the first key signs, naming itself as kid; the database key is not used", async ({ env }) => {
    const [current, previous] = [key("2026-12"), key("2026-11")];
    const deps = withKeys(env.deps, [current, previous]);
    const { accessToken } = await agentSignup(deps, {});
    expect(decodeProtectedHeader(accessToken).kid).toBe("2026-12");
    await expect(authenticate(deps, accessToken)).resolves.toBeDefined();
    // The database's key alone does not verify it: reading the file is no longer enough to forge one.
    await expect(authenticate(withKeys(env.deps, undefined), accessToken)).rejects.toMatchObject({ code: "unauthenticated" });
  });

  test("a key moved down the list still verifies its tokens, so a rotation logs nobody out; dropped, it verifies nothing", async ({ env }) => {
    const [older, newer] = [key("a"), key("b")];
    const { accessToken } = await agentSignup(withKeys(env.deps, [older]), {});
    await expect(authenticate(withKeys(env.deps, [newer, older]), accessToken)).resolves.toBeDefined();
    await expect(authenticate(withKeys(env.deps, [newer]), accessToken)).rejects.toMatchObject({
      code: "unauthenticated",
      message: expect.stringMatching(/not valid here/),
    });
  });

  test("moving from the database key: `db` in the list keeps its tokens working, including those from before key ids", async ({ env }) => {
    const before = await agentSignup(env.deps, {});
    expect(decodeProtectedHeader(before.accessToken).kid).toBe("db");
    const claims = decodeJwt(before.accessToken);
    const withoutKid = await new SignJWT(claims).setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(await signingKey(env.deps.db));
    const rotating = withKeys(env.deps, [key("new"), { id: "db" }]);
    await expect(authenticate(rotating, before.accessToken)).resolves.toBeDefined();
    await expect(authenticate(rotating, withoutKid)).resolves.toBeDefined();
    const after = withKeys(env.deps, [key("new")]);
    await expect(authenticate(after, before.accessToken)).rejects.toMatchObject({ code: "unauthenticated" });
  });

  test("request states are sealed with the signing key too", async ({ env }) => {
    const signing = key("k");
    const deps = withKeys(env.deps, [signing]);
    const { userInfo } = await agentSignup(deps, {});
    const state = await sealRequestState(deps, "p", userInfo.id, { data: {}, text: "t" });
    await expect(redeemRequestState(withKeys(env.deps, undefined), "p", state, undefined)).rejects.toThrow(/not issued by this server/);
    await expect(redeemRequestState(deps, "p", state, undefined)).resolves.toEqual({ data: {}, text: "t" });
  });
});
