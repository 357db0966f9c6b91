import { claimAccount } from "../src/services/claims.js";
import { captureLogs, expect, ok, signUp, test } from "./fixture.js";

test("a full onboarding flow leaves no token, secret or password in the logs", async ({ env }) => {
  const { client, signup } = await signUp(env, { agentName: "Logger" });
  await ok(client, "create_stack", { projectName: "p", stackName: "s" });
  const invite = await ok(client, "create_invite_link", { name: "n", expiresAt: "2026-03-10T00:00:00Z" });
  const joiner = await env.connect();
  const joined = await ok(joiner, "redeem_invite", { token: invite.url, email: "j@example.com", name: "J" });
  const human = await env.connect();
  await ok(human, "redeem_invite", { token: invite.secret, email: "h@example.com", name: "H", password: "Corr3ct-Horse!" });
  await claimAccount(env.deps, {
    claimToken: signup.claimToken,
    username: "owner",
    email: "owner@example.com",
    password: "Sup3r-Secret!",
    keepAgentAccess: false,
  });
  await ok(client, "get_claim_status");
  await client.callTool({ name: "get_current_user", arguments: {} });

  const logs = env.logs.join("");
  expect(env.logs.length).toBeGreaterThan(5);
  for (const secret of [
    signup.accessToken,
    signup.claimToken,
    invite.secret,
    joined.accessToken,
    new URL(joined.claimUrl).pathname.split("/").pop(),
    "Corr3ct-Horse!",
    "Sup3r-Secret!",
  ]) {
    expect(logs).not.toContain(secret);
  }
});

test("secret-named fields are redacted even if a caller logs them", () => {
  const { logs, log } = captureLogs("info");
  log.info({ accessToken: "t1", request: { password: "p1", headers: { authorization: "Bearer t2" } }, secret: "s1" }, "oops");
  const line = logs.join("");
  for (const value of ["t1", "p1", "t2", "s1"]) expect(line).not.toContain(value);
  expect(line).toContain("[redacted]");
});
