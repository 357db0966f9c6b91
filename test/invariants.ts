/**
 * What a database written by server processes must look like whatever
 * happened to them (a race, a SIGKILL mid-write): no half-made account, no
 * row pointing nowhere. The SQL runs on both engines (booleans tested as
 * conditions, no engine-only functions).
 */
import type { Store } from "../db/client.js";

/** Each query lists the rows that break one rule; all must come back empty. */
export const invariants: Record<string, string> = {
  "every user has a membership": `
    SELECT u.id, u.login FROM users u
     WHERE NOT EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = u.id)`,
  "every agent from agent signup has its personal organization as admin, an access token and a claim token": `
    SELECT u.id, u.login FROM users u
     WHERE u.is_agent
       AND NOT EXISTS (SELECT 1 FROM invite_link_users i WHERE i.user_id = u.id)
       AND NOT (
         EXISTS (SELECT 1 FROM organizations o
                   JOIN memberships m ON m.org_id = o.id AND m.user_id = u.id AND m.role = 'admin'
                  WHERE o.id = u.default_org_id AND o.name = u.login)
         AND EXISTS (SELECT 1 FROM access_tokens a WHERE a.user_id = u.id)
         AND EXISTS (SELECT 1 FROM claim_tokens c WHERE c.user_id = u.id))`,
  "every agent that joined by invite has its membership, an access token and a claim token": `
    SELECT u.id, u.login FROM users u JOIN invite_link_users i ON i.user_id = u.id
     WHERE u.is_agent
       AND NOT (
         EXISTS (SELECT 1 FROM invite_links l JOIN memberships m ON m.org_id = l.org_id AND m.user_id = u.id
                  WHERE l.id = i.invite_link_id)
         AND EXISTS (SELECT 1 FROM access_tokens a WHERE a.user_id = u.id)
         AND EXISTS (SELECT 1 FROM claim_tokens c WHERE c.user_id = u.id))`,
  "every human who joined by invite is in the link's organization": `
    SELECT u.id, u.login FROM users u JOIN invite_link_users i ON i.user_id = u.id JOIN invite_links l ON l.id = i.invite_link_id
     WHERE NOT u.is_agent
       AND (u.password_hash IS NULL
            OR NOT EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = u.id AND m.org_id = l.org_id))`,
  "every claimed account has a consumed claim token": `
    SELECT u.id, u.login FROM users u
     WHERE u.claimed_at IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM claim_tokens c WHERE c.user_id = u.id AND c.consumed_at IS NOT NULL)`,
  "every organization has a member": `
    SELECT o.id, o.name FROM organizations o WHERE NOT EXISTS (SELECT 1 FROM memberships m WHERE m.org_id = o.id)`,
  "every access token has its user": `
    SELECT a.jti FROM access_tokens a WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = a.user_id)`,
  "every claim token has its user": `
    SELECT c.id FROM claim_tokens c WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = c.user_id)`,
  "every invite_link_users row has its user and its link": `
    SELECT i.invite_link_id, i.user_id FROM invite_link_users i
     WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = i.user_id)
        OR NOT EXISTS (SELECT 1 FROM invite_links l WHERE l.id = i.invite_link_id)`,
  "every stack has its organization": `
    SELECT s.id FROM stacks s WHERE NOT EXISTS (SELECT 1 FROM organizations o WHERE o.id = s.org_id)`,
  "every stack tag has its stack": `
    SELECT t.stack_id, t.name FROM stack_tags t WHERE NOT EXISTS (SELECT 1 FROM stacks s WHERE s.id = t.stack_id)`,
};

/**
 * Everything wrong with the database, by rule; `{}` when it is whole. On
 * SQLite that includes the file's own integrity check and its foreign-key
 * check; PostgreSQL checks every foreign key as it writes and keeps its files
 * whole itself, so there the invariants are what is left to check.
 */
export async function brokenRules(store: Store): Promise<Record<string, unknown[]>> {
  const broken: Record<string, unknown[]> = {};
  if (store.engine === "sqlite") {
    const integrity = await store.query("PRAGMA integrity_check");
    if (integrity.length !== 1 || integrity[0]!.integrity_check !== "ok") broken["SQLite integrity_check"] = integrity;
    const foreignKeys = await store.query("PRAGMA foreign_key_check");
    if (foreignKeys.length) broken["SQLite foreign_key_check"] = foreignKeys;
  }
  for (const [rule, query] of Object.entries(invariants)) {
    const rows = await store.query(query);
    if (rows.length) broken[rule] = rows;
  }
  return broken;
}
