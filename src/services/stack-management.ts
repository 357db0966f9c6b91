import { and, asc, eq, sql } from "drizzle-orm";
import { z } from "zod";
import type { Db, ReadDb } from "../../db/client.js";
import { AppError } from "../errors.js";
import type { Deps } from "./deps.js";
import { type Membership, requireWriter, resolveMembership } from "./orgs.js";
import { createStackInput } from "./stacks.js";

/** Pulumi's AppStack, the GET /api/stacks/{org}/{project}/{stack} answer: no updates run here, so version 0 and no active update. */
export const appStackShape = z.object({
  id: z.string(),
  orgName: z.string(),
  projectName: z.string(),
  stackName: z.string(),
  activeUpdate: z.string(),
  tags: z.record(z.string(), z.string()),
  version: z.number().int(),
});
export type AppStack = z.infer<typeof appStackShape>;

export interface StackRef {
  /** Left out: the caller's default organization. */
  organization?: string;
  projectName: string;
  stackName: string;
}

/** The stack in one of the caller's organizations; any other answers like one that does not exist. */
async function findStack(db: ReadDb, membership: Membership, ref: StackRef) {
  const { stacks } = db.tables;
  const [stack] = await db
    .select()
    .from(stacks)
    .where(and(eq(stacks.orgId, membership.orgId), sql`lower(${stacks.projectName}) = lower(${ref.projectName})`, sql`lower(${stacks.stackName}) = lower(${ref.stackName})`));
  if (!stack) {
    throw new AppError(
      "not_found",
      `Stack '${membership.name}/${ref.projectName}/${ref.stackName}' not found. list_stacks (GET /api/user/stacks) shows the stacks you can see.`,
    );
  }
  return stack;
}

async function tagsOf(db: ReadDb, stackId: number): Promise<Record<string, string>> {
  const { stackTags } = db.tables;
  const rows = await db.select({ name: stackTags.name, value: stackTags.value }).from(stackTags).where(eq(stackTags.stackId, stackId)).orderBy(asc(stackTags.name));
  return Object.fromEntries(rows.map((row) => [row.name, row.value]));
}

export async function getStack(deps: Deps, userId: number, ref: StackRef): Promise<AppStack> {
  const membership = await resolveMembership(deps.db, userId, ref.organization);
  const stack = await findStack(deps.db, membership, ref);
  return {
    id: stack.uid,
    orgName: membership.name,
    projectName: stack.projectName,
    stackName: stack.stackName,
    activeUpdate: "",
    tags: await tagsOf(deps.db, stack.id),
    version: 0,
  };
}

/** Whether the organization has a stack of the project (Pulumi's HEAD /api/stacks/{org}/{project}). */
export async function projectExists(deps: Deps, userId: number, organization: string, projectName: string): Promise<boolean> {
  const membership = await resolveMembership(deps.db, userId, organization);
  const { stacks } = deps.db.tables;
  const n = await deps.db.$count(stacks, and(eq(stacks.orgId, membership.orgId), sql`lower(${stacks.projectName}) = lower(${projectName})`));
  return n > 0;
}

/**
 * Deletes a stack and its tags. An admin of the organization may delete any
 * of its stacks; a member only one they created; a viewer none.
 */
export async function deleteStack(deps: Deps, userId: number, ref: StackRef): Promise<{ orgName: string; projectName: string; stackName: string }> {
  const membership = await resolveMembership(deps.db, userId, ref.organization);
  requireWriter(membership, "delete stacks in it");
  return deps.db.transact(async (tx: Db) => {
    const stack = await findStack(tx, membership, ref);
    if (membership.role !== "admin" && stack.createdByUserId !== userId) {
      throw new AppError(
        "forbidden",
        `Only an admin of "${membership.name}" or whoever created it can delete the stack ${membership.name}/${stack.projectName}/${stack.stackName}. Ask an admin of the organization.`,
      );
    }
    const { stacks } = tx.tables;
    await tx.delete(stacks).where(eq(stacks.id, stack.id));
    return { orgName: membership.name, projectName: stack.projectName, stackName: stack.stackName };
  });
}

const tagsShape = createStackInput.shape.tags.unwrap();

/** Replaces a stack's whole tag map, as Pulumi's PATCH …/tags does (the CLI's `stack tag set` and `rm` send every tag). */
export async function replaceStackTags(deps: Deps, userId: number, ref: StackRef, tags: unknown): Promise<Record<string, string>> {
  const parsed = tagsShape.safeParse(tags ?? {});
  if (!parsed.success) throw new AppError("validation", parsed.error.issues[0]!.message, { field: "tags" });
  const membership = await resolveMembership(deps.db, userId, ref.organization);
  requireWriter(membership, "change stack tags in it");
  return deps.db.transact(async (tx: Db) => {
    const stack = await findStack(tx, membership, ref);
    const { stackTags } = tx.tables;
    await tx.delete(stackTags).where(eq(stackTags.stackId, stack.id));
    const rows = Object.entries(parsed.data).map(([name, value]) => ({ stackId: stack.id, name, value }));
    if (rows.length) await tx.insert(stackTags).values(rows);
    return parsed.data;
  });
}

export const deleteStackInput = z.object({
  organization: createStackInput.shape.organization.describe("Organization the stack belongs to, by name. Defaults to your default organization."),
  projectName: createStackInput.shape.projectName.describe("Project of the stack."),
  stackName: createStackInput.shape.stackName.describe("Name of the stack to delete."),
});

export const deletedStackShape = z.object({ orgName: z.string(), projectName: z.string(), stackName: z.string() });
