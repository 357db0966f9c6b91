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
