import type { IncomingMessage } from "node:http";
import { addressBucket, clientAddress, type TrustProxy } from "./client-address.js";
import type { Deps } from "./services/deps.js";
import { admitAccountCreation } from "./services/signup-limits.js";

/**
 * The hourly signup limit per client address, shared by /mcp, the REST API
 * and the pages: an IPv6 client counts per /64, behind trusted proxies the
 * client is whom they name, and the count lives in the database.
 */
export class SignupLimiter {
  constructor(
    private readonly deps: Deps,
    private readonly perHour: number,
    private readonly trust: TrustProxy = () => false,
  ) {}

  /** Where `req` came from, through the proxies ONBOARD_TRUST_PROXY trusts. */
  addressOf(req: IncomingMessage): string {
    return clientAddress(req, this.trust);
  }

  /** Records one account creation for `address`, or throws when it has had its share this hour. */
  take(address: string): Promise<void> {
    return admitAccountCreation(this.deps, addressBucket(address), this.perHour);
  }

  /** Records one OAuth client registration for `address`, counted apart from signups but to the same hourly limit. */
  takeClientRegistration(address: string): Promise<void> {
    return admitAccountCreation(this.deps, `oauth-client ${addressBucket(address)}`, this.perHour, "OAuth client registrations");
  }
}
