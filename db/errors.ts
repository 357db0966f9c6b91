/** The driver's error code (a SQLSTATE on PostgreSQL, `SQLITE_…` on SQLite), also when drizzle wraps the error. */
export function driverCode(error: unknown): string | undefined {
  for (let e = error; e && typeof e === "object"; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") return code;
  }
  return undefined;
}

/**
 * PostgreSQL refused a text parameter it cannot hold: a NUL character
 * (SQLSTATE 22021; the driver sends everything else as valid UTF-8). SQLite
 * stores and compares such text; PostgreSQL refuses it in writes and lookups alike.
 */
export function isUnstorableText(error: unknown): boolean {
  return driverCode(error) === "22021";
}

/** A unique index or primary key refused the row, on either engine. */
export function isUniqueViolation(error: unknown): boolean {
  const code = driverCode(error);
  return code === "23505" || code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY";
}

/** Why a PostgreSQL database could not be used, in words an operator acts on. */
export function connectionProblem(error: unknown): string {
  const code = driverCode(error);
  const reasons: Record<string, string> = {
    ECONNREFUSED: "connection refused: is the server running and listening on that host and port?",
    ENOTFOUND: "unknown host",
    EAI_AGAIN: "the host name could not be looked up",
    ETIMEDOUT: "the connection timed out",
    "28P01": "wrong password",
    "28000": "the server refused this user",
    "3D000": "the database does not exist; create it first (createdb)",
    "42501": "this user may not create tables there",
  };
  if (code && reasons[code]) return reasons[code];
  if (error instanceof Error && /timeout/i.test(error.message)) return "the connection timed out";
  return code ? `error ${code}` : "unexpected error";
}

/**
 * What the driver said about a failed statement. Only the driver's own
 * message: drizzle's wrapper quotes the query's parameters, and those hold
 * password hashes and the signing key.
 */
