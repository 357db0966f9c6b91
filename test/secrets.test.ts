import { getTableName } from "drizzle-orm";
import { afterEach, beforeEach, expect, test } from "vitest";
import { ok, textOf } from "./fixture.js";
import { startTestHttp, type TestHttp } from "./http-fixture.js";

let http: TestHttp;
beforeEach(async () => {
  http = await startTestHttp();
});
afterEach(async () => {
  await http.close();
});

/** Every text value stored anywhere in the database: every column of every row of every table. */
async function allStoredText(http: TestHttp): Promise<string> {
  const tables = Object.values(http.store.db.tables).map((table) => getTableName(table));
  expect(tables).toContain("users");
  const rows = await Promise.all(tables.map((table) => http.store.query(`SELECT * FROM "${table}"`)));
  return rows
    .flat()
    .flatMap((row) => Object.values(row).map(String))
    .join("\n");
}

test("after a full flow no token, secret or password is in the logs, the error texts or the database in clear", async () => {
  const errors: string[] = [];
  const json = async (path: string, init: RequestInit = {}) => {
    const response = await fetch(`${http.url}${path}`, {
      ...init,
      headers: { "content-type": "application/json", ...(init.headers ?? {}) },
    });
    const body = await response.text();
    if (!response.ok) errors.push(body);
    return body ? JSON.parse(body) : undefined;
  };

  const { client } = await http.connect();
  const signup = await ok(client, "agent_signup", { agentName: "Keeper" });
  const auth = { authorization: `token ${signup.accessToken}` };
  const invite = await json("/api/admin/invite-link/tokens", {
    method: "POST",
    headers: auth,
    body: JSON.stringify({ name: "crew", expiresAt: new Date(Date.now() + 86_400_000).toISOString() }),
  });
  const joined = await json(`/invite/${invite.secret}/signup`, {
    method: "POST",
    body: JSON.stringify({ email: "mate@example.com", name: "Mate" }),
  });
  const humanPassword = "Human-Passw0rd!";
  await json(`/invite/${invite.secret}/signup`, {
    method: "POST",
    body: JSON.stringify({ email: "human@example.com", name: "Human", password: humanPassword }),
  });
  // Failures that echo input must not echo secrets either.
  await json(`/invite/${invite.secret}/signup`, { method: "POST", body: JSON.stringify({ email: "human@example.com", name: "Again", password: humanPassword }) });
  await json(`/invite/${invite.secret}/signup`, { method: "POST", body: JSON.stringify({ email: "weak@example.com", name: "Weak", password: "weakpass" }) });
  await json("/api/user", { headers: { authorization: `token ${signup.accessToken}x` } });
  errors.push(textOf(await client.callTool({ name: "redeem_invite", arguments: { token: `${invite.secret}x`, email: "z@example.com", name: "Z" } }) as never));

  // The human claims the agent through the page.
  const claimPage = await fetch(signup.claimUrl);
  const cookie = claimPage.headers.get("set-cookie")!.split(";")[0]!;
  const csrf = (await claimPage.text()).match(/name="csrf" value="([^"]+)"/)![1]!;
  const ownerPassword = "Owner-Passw0rd!";
  const claimed = await fetch(signup.claimUrl, {
    method: "POST",
    headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ csrf, username: "owner", email: "owner@example.com", password: ownerPassword, keepAgentAccess: "yes" }),
  });
  expect(claimed.status).toBe(200);
  expect(await claimed.text()).not.toContain(ownerPassword);

  const secrets = {
    accessToken: signup.accessToken,
    claimToken: signup.claimToken,
    inviteSecret: invite.secret,
    joinedAccessToken: joined.accessToken,
    joinedClaimToken: new URL(joined.claimUrl).pathname.split("/").pop(),
    humanPassword,
    ownerPassword,
    csrf,
  };
  const logs = http.logs.join("");
  const stored = await allStoredText(http);
  expect(errors.length).toBeGreaterThanOrEqual(4);
  for (const [name, secret] of Object.entries(secrets)) {
    expect(logs, `${name} in logs`).not.toContain(secret);
    expect(errors.join("\n"), `${name} in an error text`).not.toContain(secret);
    if (name !== "csrf") expect(stored, `${name} in the database`).not.toContain(secret);
  }
});
