import { isUnstorableText } from "../db/errors.js";

/** The closed set of failures a caller can act on; every surface maps them from this table. */
export const errorKinds = {
  validation: { status: 400, name: "ValidationError" },
  bad_request: { status: 400, name: "BadDataError" },
  unauthenticated: { status: 401, name: "AuthenticationRequired" },
  forbidden: { status: 403, name: "NoAccessError" },
  not_found: { status: 404, name: "NotFoundError" },
  conflict: { status: 409, name: "NameExistsError" },
  gone: { status: 410, name: "GoneError" },
  rate_limited: { status: 429, name: "TooManyRequestsError" },
} as const;

export type ErrorCode = keyof typeof errorKinds;

/** A failure whose message is safe to show the caller and says what to do next. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = errorKinds[code].name;
    this.code = code;
    this.details = details;
  }
}

export const isAppError = (error: unknown): error is AppError => error instanceof AppError;

/**
 * What a failure is to the caller: an AppError as it is, or the caller's text
 * that the database cannot hold (a NUL character: PostgreSQL refuses it in a
 * write or a lookup, where SQLite keeps it). Undefined for anything unexpected.
 */
export function appErrorOf(error: unknown): AppError | undefined {
  if (isAppError(error)) return error;
  if (isUnstorableText(error)) return new AppError("validation", "Text may not contain a NUL character (U+0000); remove it and try again.");
  return undefined;
}
