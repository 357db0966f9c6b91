import type { IncomingMessage } from "node:http";

/**
 * `Authorization: Bearer <t>` or the Pulumi CLI's `Authorization: token <t>`.
 * Any other header value is returned whole, so that it fails verification
 * (401) instead of passing as anonymous.
 */
export const tokenFrom = (req: IncomingMessage): string | undefined => tokenFromHeader(req.headers.authorization);

export function tokenFromHeader(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  return header.match(/^(?:bearer|token)\s+(\S+)\s*$/i)?.[1] ?? header;
}
