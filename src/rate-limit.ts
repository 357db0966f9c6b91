import type { IncomingMessage } from "node:http";
import { addressBucket, clientAddress, type TrustProxy } from "./client-address.js";
import { AppError } from "./errors.js";

/**
 * A sliding log of account creations per client address (an IPv6 client
 * counts per /64), shared by /mcp, the REST API and the pages. Kept in memory:
 * with several instances each enforces its own share, which is enough to
 * stop one address from minting accounts in a loop.
 */
export class SignupLimiter {
  private readonly seen = new Map<string, number[]>();

  constructor(
    private readonly perHour: number,
    private readonly trust: TrustProxy = () => false,
    private readonly now: () => number = Date.now,
  ) {}

  /** Where `req` came from, through the proxies ONBOARD_TRUST_PROXY trusts. */
  addressOf(req: IncomingMessage): string {
    return clientAddress(req, this.trust);
  }

  /** Records one account creation for `address`, or throws when it has had its share this hour. */
  take(clientAddressOrBucket: string): void {
    if (this.perHour === 0) return;
    const address = addressBucket(clientAddressOrBucket);
    const now = this.now();
    const recent = (this.seen.get(address) ?? []).filter((at) => at > now - 3_600_000);
    if (recent.length >= this.perHour) {
      const retryAt = new Date(recent[0]! + 3_600_000);
      const seconds = Math.ceil((retryAt.getTime() - now) / 1000);
      throw new AppError(
        "rate_limited",
        `Too many signup attempts from your address in the last hour (limit ${this.perHour}). Retry after ${retryAt.toISOString()} (in ${seconds} s).`,
        { retryAfterSeconds: seconds },
      );
    }
    recent.push(now);
    this.seen.set(address, recent);
    if (this.seen.size > 10_000) this.forgetIdle(now);
  }

  private forgetIdle(now: number) {
    for (const [address, times] of this.seen) {
      if (times.every((at) => at <= now - 3_600_000)) this.seen.delete(address);
    }
  }
}
