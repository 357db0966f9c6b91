import { describe } from "vitest";
import { forgetExpiredRequestStates, redeemRequestState, REQUEST_STATE_TTL_MS, sealRequestState } from "../../src/services/request-states.js";
import { countRows, expect, signUp, test } from "../fixture.js";

const PURPOSE = "tools/call agent_signup";
const held = { data: { accessToken: "secret-token-value" }, text: "Signed up." };

describe("sealed request states", () => {
  test("open once for the account and purpose they were sealed for, and hide what they hold", async ({ env }) => {
    const { signup } = await signUp(env);
    const state = await sealRequestState(env.deps, PURPOSE, signup.userInfo.id, held);
    expect(state).not.toContain("secret-token-value");
    expect(Buffer.from(state.split(".")[3] ?? "", "base64url").toString()).not.toContain("secret-token-value");

    expect(await redeemRequestState(env.deps, PURPOSE, state, undefined)).toEqual(held);
    await expect(redeemRequestState(env.deps, PURPOSE, state, undefined)).rejects.toThrow(/already used/);
    expect(await countRows(env, "used_request_states")).toBe(1);
  });

  test("refuse another purpose, another account, and a state past its lifetime", async ({ env }) => {
    const { signup } = await signUp(env);
    const other = await signUp(env);
    const state = await sealRequestState(env.deps, PURPOSE, signup.userInfo.id, held);

    await expect(redeemRequestState(env.deps, "tools/call redeem_invite", state, undefined)).rejects.toThrow(/not issued by this server for this tool/);
    await expect(redeemRequestState(env.deps, PURPOSE, state, other.signup.userInfo.id)).rejects.toThrow(/another account/);
    env.clock.advance(REQUEST_STATE_TTL_MS + 1_000);
    await expect(redeemRequestState(env.deps, PURPOSE, state, signup.userInfo.id)).rejects.toThrow(/expired/);
    expect(await countRows(env, "used_request_states")).toBe(0);
  });

  test("used states are forgotten once they could no longer be replayed anyway", async ({ env }) => {
    const { signup } = await signUp(env);
    await redeemRequestState(env.deps, PURPOSE, await sealRequestState(env.deps, PURPOSE, signup.userInfo.id, held), undefined);
    expect(await forgetExpiredRequestStates(env.deps)).toBe(0);
    env.clock.advance(REQUEST_STATE_TTL_MS + 1_000);
    expect(await forgetExpiredRequestStates(env.deps)).toBe(1);
    expect(await countRows(env, "used_request_states")).toBe(0);
  });
});
