import { and, eq, inArray } from "drizzle-orm";
import { AppError } from "../../src/errors.js";
import { agentSignup } from "../../src/services/accounts.js";
import {
  type AppStackSummary,
  createStack,
  type CreateStackInput,
  listStacks,
  type ListStacksInput,
  MAX_RESULTS_CAP,
  MAX_RESULTS_DEFAULT,
} from "../../src/services/stacks.js";
import type { Deps } from "../../src/services/deps.js";
import { countRows, expect, type TestEnv, test } from "../fixture.js";
import { seedStacksPage } from "../seed-shapes.js";

/** A fresh agent made by the signup service: its row id and personal organization. */
async function newAgent(env: TestEnv) {
  const signup = await agentSignup(env.deps, {});
  const { users } = env.deps.db.tables;
  const [user] = await env.deps.db.select({ id: users.id }).from(users).where(eq(users.uid, signup.userInfo.id));
  return { userId: user!.id, org: signup.userInfo.organizations[0]!.name };
}

/**
 * Runs `work` with services whose every write joins one transaction, so that
 * thousands of stacks take a fraction of the time one transaction each would.
 */
const inOneTransaction = <T>(env: TestEnv, work: (deps: Deps) => Promise<T>): Promise<T> =>
  env.deps.db.transact((tx) => work({ ...env.deps, db: tx }));

/** Creates stacks through the service, one after the other (their order is their creation order). */
async function createEach(deps: Deps, userId: number, count: number, input: Partial<CreateStackInput> = {}): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    ids.push((await createStack(deps, userId, { projectName: "bulk", stackName: `s${i}`, ...input })).id);
  }
  return ids;
}

/** Creates stacks through the service, all in one transaction. */
const createMany = (env: TestEnv, userId: number, count: number, input: Partial<CreateStackInput> = {}): Promise<string[]> =>
  inOneTransaction(env, (deps) => createEach(deps, userId, count, input));

/** Follows continuationToken to the end and returns every page, each checked against the seed's shape. */
async function listAll(env: TestEnv, userId: number, input: ListStacksInput = {}) {
  const pages = [seedStacksPage.parse(await listStacks(env.deps, userId, input))];
  while (pages.at(-1)!.continuationToken !== undefined) {
    if (pages.length > 10_000) throw new Error("paging does not end");
    pages.push(seedStacksPage.parse(await listStacks(env.deps, userId, { ...input, continuationToken: pages.at(-1)!.continuationToken })));
  }
  return pages;
}

/** For the tests that create hundreds of stacks: one round trip each is seconds on PostgreSQL under load. */
const BULK_MS = 120_000;

const idsOf = (page: { stacks: AppStackSummary[] }) => page.stacks.map((stack) => stack.id);

/** The AppError a call rejects with. */
async function thrown(fn: () => Promise<unknown>): Promise<AppError> {
  try {
    await fn();
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error("expected the call to throw");
}

test("the documented page size is 100 by default and 500 at most", () => {
  expect(MAX_RESULTS_DEFAULT).toBe(100);
  expect(MAX_RESULTS_CAP).toBe(500);
});

test("paging through 1,234 stacks at the cap returns every stack once, in creation order", async ({ env }) => {
  const { userId } = await newAgent(env);
  const created = await createMany(env, userId, 1234);

  const pages = await listAll(env, userId, { maxResults: 10_000 });

  expect(pages.map((page) => page.stacks.length)).toEqual([500, 500, 234]);
  expect(pages.flatMap(idsOf)).toEqual(created);
  expect(pages.at(-1)).not.toHaveProperty("continuationToken");
}, BULK_MS);

test("without maxResults pages hold 100 stacks", async ({ env }) => {
  const { userId } = await newAgent(env);
  const created = await createMany(env, userId, 250);

  const pages = await listAll(env, userId);

  expect(pages.map((page) => page.stacks.length)).toEqual([100, 100, 50]);
  expect(pages.flatMap(idsOf)).toEqual(created);
});

test("maxResults 1 walks the stacks one by one", async ({ env }) => {
  const { userId } = await newAgent(env);
  const created = await createMany(env, userId, 7);
  const pages = await listAll(env, userId, { maxResults: 1 });
  expect(pages.map(idsOf)).toEqual(created.map((id) => [id]));
});

test("paging with a filter over many rows skips non-matching stacks and still ends", async ({ env }) => {
  const { userId, org } = await newAgent(env);
  const other = await newAgent(env);
  const wanted = await inOneTransaction(env, async (deps) => {
    const matching: string[] = [];
    for (let i = 0; i < 600; i++) {
      const tags = { tier: i % 3 === 0 ? "gold" : "silver" };
      const stack = await createStack(deps, userId, { projectName: i % 2 ? "odd" : "even", stackName: `s${i}`, tags });
      if (i % 2 === 0 && i % 3 === 0) matching.push(stack.id);
    }
    await createEach(deps, other.userId, 50, { projectName: "even", tags: { tier: "gold" } });
    return matching;
  });

  const pages = await listAll(env, userId, { organization: org, project: "even", tagName: "tier", tagValue: "gold", maxResults: 30 });

  expect(wanted).toHaveLength(100);
  expect(pages.flatMap(idsOf)).toEqual(wanted);
  expect(pages.map((page) => page.stacks.length)).toEqual([30, 30, 30, 10]);
}, BULK_MS);

test("paging is by keyset: removing a stack already seen does not skip the next ones", async ({ env }) => {
  const { userId } = await newAgent(env);
  const created = await createMany(env, userId, 6);

  const first = await listStacks(env.deps, userId, { maxResults: 2 });
  // With offsets, deleting a stack on an earlier page would shift the rest back by one.
  await env.deps.db.transact(async (tx) => {
    await tx.delete(tx.tables.stacks).where(inArray(tx.tables.stacks.uid, created.slice(0, 2)));
  });
  const second = await listStacks(env.deps, userId, { maxResults: 2, continuationToken: first.continuationToken });

  expect(idsOf(first)).toEqual(created.slice(0, 2));
  expect(idsOf(second)).toEqual(created.slice(2, 4));
});

test("a stack created between pages comes last, with no duplicates", async ({ env }) => {
  const { userId } = await newAgent(env);
  const created = await createMany(env, userId, 5);

  const first = await listStacks(env.deps, userId, { maxResults: 3 });
  const late = await createStack(env.deps, userId, { projectName: "bulk", stackName: "late" });
  const second = await listStacks(env.deps, userId, { maxResults: 3, continuationToken: first.continuationToken });

  expect([...idsOf(first), ...idsOf(second)]).toEqual([...created, late.id]);
  expect(second).not.toHaveProperty("continuationToken");
});

test("a user removed from an organization no longer sees its stacks", async ({ env }) => {
  const me = await newAgent(env);
  const team = await newAgent(env);
  const teamStacks = await createMany(env, team.userId, 2);
  const { memberships, organizations } = env.deps.db.tables;
  const [org] = await env.deps.db.select({ id: organizations.id }).from(organizations).where(eq(organizations.name, team.org));
  const orgId = org!.id;
  await env.deps.db.transact(async (tx) => {
    await tx.insert(memberships).values({ userId: me.userId, orgId, role: "member", createdAt: new Date() });
  });
  expect(idsOf(await listStacks(env.deps, me.userId, {}))).toEqual(teamStacks);

  await env.deps.db.transact(async (tx) => {
    await tx.delete(memberships).where(and(eq(memberships.userId, me.userId), eq(memberships.orgId, orgId)));
  });

  expect(await listStacks(env.deps, me.userId, {})).toEqual({ stacks: [] });
});

test("a token issued on one page cannot be replayed by another user or with other filters", async ({ env }) => {
  const me = await newAgent(env);
  const other = await newAgent(env);
  await createMany(env, me.userId, 3);
  const token = (await listStacks(env.deps, me.userId, { maxResults: 1 })).continuationToken!;

  for (const [userId, input] of [
    [other.userId, {}],
    [me.userId, { project: "bulk" }],
    [me.userId, { organization: me.org }],
  ] as const) {
    const error = await thrown(() => listStacks(env.deps, userId, { ...input, maxResults: 1, continuationToken: token }));
    expect(error.code).toBe("bad_request");
    expect(error.message).toContain("Invalid continuation token");
  }
});

test("the organization filter is case-insensitive for the token too", async ({ env }) => {
  const { userId, org } = await newAgent(env);
  const created = await createMany(env, userId, 3);
  const first = await listStacks(env.deps, userId, { organization: org.toLowerCase(), maxResults: 2 });
  const second = await listStacks(env.deps, userId, { organization: org.toUpperCase(), maxResults: 2, continuationToken: first.continuationToken });
  expect([...idsOf(first), ...idsOf(second)]).toEqual(created);
});

test("tagValue without tagName is a validation error", async ({ env }) => {
  const { userId } = await newAgent(env);
  const error = await thrown(() => listStacks(env.deps, userId, { tagValue: "dev" }));
  expect(error.code).toBe("validation");
  expect(error.message).toContain("tagName");
});

test("a duplicate stack is a conflict and leaves the first stack and its tags alone", async ({ env }) => {
  const { userId } = await newAgent(env);
  const first = await createStack(env.deps, userId, { projectName: "web", stackName: "dev", tags: { env: "dev" } });

  const error = await thrown(() => createStack(env.deps, userId, { projectName: "WEB", stackName: "Dev", tags: { env: "x", more: "y" } }));

  expect(error.code).toBe("conflict");
  expect(error.message).toMatch(/already exists/);
  expect(await countRows(env, "stacks")).toBe(1);
  expect(await env.store.query("SELECT name, value FROM stack_tags")).toEqual([{ name: "env", value: "dev" }]);
  expect(idsOf(await listStacks(env.deps, userId, {}))).toEqual([first.id]);
});

test("creating in an organization the user is not in is not_found, like a missing one", async ({ env }) => {
  const me = await newAgent(env);
  const other = await newAgent(env);

  const stranger = await thrown(() => createStack(env.deps, me.userId, { organization: other.org, projectName: "web", stackName: "dev" }));
  const missing = await thrown(() => createStack(env.deps, me.userId, { organization: "nowhere", projectName: "web", stackName: "dev" }));

  expect(stranger.code).toBe("not_found");
  expect(missing.code).toBe("not_found");
  expect(stranger.message.replace(other.org, "<org>")).toBe(missing.message.replace("nowhere", "<org>"));
  expect(await countRows(env, "stacks")).toBe(0);
});
