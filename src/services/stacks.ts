import { createHmac, timingSafeEqual } from "node:crypto";
import { and, asc, eq, gt, type SQL, sql } from "drizzle-orm";
import { z } from "zod";
import { isUniqueViolation } from "../../db/errors.js";
import { AppError } from "../errors.js";
import type { Deps } from "./deps.js";
import { organizationNameShape, requireWriter, resolveMembership } from "./orgs.js";
import { newUid } from "./secrets.js";
import { signingKey } from "./tokens.js";

/** Pulumi's AppStackSummary (seed 001). */
export const appStackSummaryShape = z.object({
  id: z.string(),
  orgName: z.string(),
  projectName: z.string(),
  stackName: z.string(),
  lastUpdate: z.number().int().optional(),
  resourceCount: z.number().int().optional(),
  links: z.object({ self: z.string() }).optional(),
});
export type AppStackSummary = z.infer<typeof appStackSummaryShape>;

/** Pulumi's GET /api/user/stacks response (seed 001). */
export const stacksPageShape = z.object({
  stacks: z.array(appStackSummaryShape),
  continuationToken: z.string().optional(),
});
export type StacksPage = z.infer<typeof stacksPageShape>;

const nameRule = "1–100 letters, digits, '-', '_' or '.'";
export const stackNamePart = (field: string) =>
  z.string().regex(/^[A-Za-z0-9_.-]{1,100}$/, `${field} must be ${nameRule}.`);

const tagNameShape = z
  .string()
  .regex(/^[A-Za-z0-9_.:-]{1,40}$/, "A tag name is 1–40 letters, digits, '-', '_', '.' or ':'.");

export const createStackInput = z.object({
  organization: organizationNameShape
    .optional()
    .describe("Organization that will own the stack, by name. Defaults to your default organization."),
  projectName: stackNamePart("projectName").describe(`Project the stack belongs to (${nameRule}).`),
  stackName: stackNamePart("stackName").describe(`Name of the stack, unique within the project (${nameRule}), e.g. "dev".`),
  tags: z
    .record(tagNameShape, z.string().max(256, "A tag value is at most 256 characters."), {
      // zod reports a bad key as "Invalid key in record"; pass the tag name rule on instead.
      error: (issue) => (issue.code === "invalid_key" ? issue.issues?.[0]?.message : undefined),
    })
    .refine((tags) => Object.keys(tags).length <= 50, "A stack has at most 50 tags.")
    .optional()
    .describe('Optional tags, name to value, e.g. {"env": "dev"}; filter on them with list_stacks.'),
});
export type CreateStackInput = z.infer<typeof createStackInput>;

export const MAX_RESULTS_DEFAULT = 100;
export const MAX_RESULTS_CAP = 500;

export const listStacksInput = z.object({
  organization: z.string().max(100).optional().describe("Only stacks of this organization (by name)."),
  project: z.string().max(100).optional().describe("Only stacks of this project."),
  tagName: z.string().max(40).optional().describe("Only stacks that have this tag."),
  tagValue: z.string().max(256).optional().describe("With tagName: only stacks whose tag has exactly this value."),
  maxResults: z
    .number()
    .int("maxResults must be a whole number.")
    .min(1, "maxResults must be at least 1.")
    .optional()
    .describe(`Stacks per page: default ${MAX_RESULTS_DEFAULT}, larger values are lowered to ${MAX_RESULTS_CAP}.`),
  continuationToken: z
    .string()
    .max(512)
    .optional()
    .describe("The continuationToken of the previous page, with the same filters, to get the next page."),
});
export type ListStacksInput = z.infer<typeof listStacksInput>;

type StackRow = { uid: string; orgName: string; projectName: string; stackName: string };

const toSummary = (row: StackRow): AppStackSummary => ({
  id: row.uid,
  orgName: row.orgName,
  projectName: row.projectName,
  stackName: row.stackName,
});

/** A member or admin of the organization creates an empty stack there; a Viewer cannot. */
export async function createStack(deps: Deps, userId: number, input: CreateStackInput): Promise<AppStackSummary> {
  const membership = await resolveMembership(deps.db, userId, input.organization);
  requireWriter(membership, "create stacks in it");
  const now = deps.clock();
  const uid = newUid();
  try {
    await deps.db.transact(async (tx) => {
      const { stacks, stackTags } = tx.tables;
      const [stack] = await tx
        .insert(stacks)
        .values({ uid, orgId: membership.orgId, projectName: input.projectName, stackName: input.stackName, createdAt: now, createdByUserId: userId })
        .returning({ id: stacks.id });
      const tags = Object.entries(input.tags ?? {}).map(([name, value]) => ({ stackId: stack!.id, name, value }));
      if (tags.length) await tx.insert(stackTags).values(tags);
    });
  } catch (error) {
    if (isUniqueViolation(error)) {
      throw new AppError(
        "conflict",
        `The stack ${membership.name}/${input.projectName}/${input.stackName} already exists. Choose another stackName, or use the existing stack (list_stacks shows it).`,
      );
    }
    throw error;
  }
  return toSummary({ uid, orgName: membership.name, projectName: input.projectName, stackName: input.stackName });
}

/** Every stack of every organization the caller belongs to, filtered and paged by keyset. */
export async function listStacks(deps: Deps, userId: number, input: ListStacksInput): Promise<StacksPage> {
  const { memberships, organizations, stacks, stackTags } = deps.db.tables;
  if (input.tagValue !== undefined && input.tagName === undefined) {
    throw new AppError("validation", "tagValue needs tagName: give the tag's name too, or leave tagValue out.");
  }
  const limit = Math.min(input.maxResults ?? MAX_RESULTS_DEFAULT, MAX_RESULTS_CAP);
  const fingerprint = queryFingerprint(userId, input);
  const after = input.continuationToken === undefined ? 0 : await readPageToken(deps, input.continuationToken, fingerprint);

  const conditions: SQL[] = [gt(stacks.id, after)];
  if (input.organization !== undefined) conditions.push(sql`lower(${organizations.name}) = lower(${input.organization})`);
  if (input.project !== undefined) conditions.push(sql`lower(${stacks.projectName}) = lower(${input.project})`);
  if (input.tagName !== undefined) {
    const valueMatch = input.tagValue === undefined ? sql`` : sql` and ${stackTags.value} = ${input.tagValue}`;
    conditions.push(
      sql`exists (select 1 from ${stackTags} where ${stackTags.stackId} = ${stacks.id} and ${stackTags.name} = ${input.tagName}${valueMatch})`,
    );
  }
  const rows = await deps.db
    .select({ id: stacks.id, uid: stacks.uid, orgName: organizations.name, projectName: stacks.projectName, stackName: stacks.stackName })
    .from(stacks)
    .innerJoin(memberships, and(eq(memberships.orgId, stacks.orgId), eq(memberships.userId, userId)))
    .innerJoin(organizations, eq(organizations.id, stacks.orgId))
    .where(and(...conditions))
    .orderBy(asc(stacks.id))
    .limit(limit + 1);
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    stacks: page.map(toSummary),
    ...(rows.length > limit && last ? { continuationToken: await writePageToken(deps, last.id, fingerprint) } : {}),
  };
}

// A page token names the last stack seen and the query it belongs to, sealed
// with an HMAC so that a forged or edited token cannot steer the query.
const queryFingerprint = (userId: number, input: ListStacksInput) =>
  JSON.stringify([userId, input.organization?.toLowerCase(), input.project?.toLowerCase(), input.tagName, input.tagValue]);

const mac = async (deps: Deps, payload: string) =>
  createHmac("sha256", await signingKey(deps.db)).update(`stacks-page|${payload}`).digest().subarray(0, 16);

async function writePageToken(deps: Deps, lastId: number, fingerprint: string): Promise<string> {
  const payload = String(lastId);
  return `${Buffer.from(payload).toString("base64url")}.${(await mac(deps, `${payload}|${fingerprint}`)).toString("base64url")}`;
}

async function readPageToken(deps: Deps, token: string, fingerprint: string): Promise<number> {
  const lastId = Number(Buffer.from(token.split(".")[0] ?? "", "base64url").toString());
  // Only the exact token we would have written is accepted: base64url decoding is
  // lenient and ignores extra segments, so comparing the decoded parts is not enough.
  const expected = Number.isSafeInteger(lastId) && lastId >= 1 ? Buffer.from(await writePageToken(deps, lastId, fingerprint)) : undefined;
  const given = Buffer.from(token);
  if (!expected || given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new AppError(
      "bad_request",
      "Invalid continuation token. Pass the continuationToken of the previous page unchanged, with the same filters, or leave it out to start from the first page.",
    );
  }
  return lastId;
}
