import { eq } from "drizzle-orm";
import { z } from "zod";
import { AppError } from "../errors.js";
import type { Deps } from "./deps.js";
import { cleanFreeText } from "./free-text.js";

export const profileInput = z.object({
  name: z.string().trim().min(1, "Your name may not be empty.").max(255, "Your name is at most 255 characters."),
  /** Empty: the identicon again. */
  avatarUrl: z
    .string()
    .trim()
    .max(2048, "The picture's address is at most 2048 characters.")
    .refine((value) => value === "" || URL.canParse(value) && new URL(value).protocol === "https:", "The picture's address must be an https:// URL, or empty for the identicon."),
});
export type ProfileInput = z.input<typeof profileInput>;

/** The human changes the name and picture others see on their account. */
export async function updateProfile(deps: Deps, userId: number, input: ProfileInput): Promise<{ name: string; avatarUrl: string | null }> {
  const parsed = profileInput.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new AppError("validation", issue.message, { field: String(issue.path[0] ?? "name") });
  }
  const name = cleanFreeText(parsed.data.name);
  if (!name) throw new AppError("validation", "Your name may not be empty.", { field: "name" });
  const changes = { name, avatarUrl: parsed.data.avatarUrl || null };
  await deps.db.transact((tx) => tx.update(tx.tables.users).set(changes).where(eq(tx.tables.users.id, userId)));
  return changes;
}
