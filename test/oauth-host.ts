/**
 * An MCP host's side of OAuth for tests and the bench: what a host keeps
 * (its registration, the PKCE verifier, its tokens), and the human's part
 * of the agent-first path done by hand, without a browser: the consent page,
 * its "Start a new agent account" button, and the redirects back.
 */
import { auth, type OAuthClientMetadata, type OAuthClientProvider, type OAuthDiscoveryState } from "@modelcontextprotocol/client";

export const HOST_REDIRECT = "http://127.0.0.1:33418/callback";

/** A host's OAuth state, in memory; `authorizationUrl` is where it would send its human. */
export class HostProvider implements OAuthClientProvider {
  authorizationUrl?: URL;
  private info?: Awaited<ReturnType<NonNullable<OAuthClientProvider["clientInformation"]>>>;
  private saved?: Awaited<ReturnType<OAuthClientProvider["tokens"]>>;
  private verifier = "";
  private discovery?: OAuthDiscoveryState;
  readonly redirectUrl = HOST_REDIRECT;
  constructor(readonly name = "Test MCP host") {}
  get clientMetadata(): OAuthClientMetadata {
    return { client_name: this.name, redirect_uris: [HOST_REDIRECT], grant_types: ["authorization_code", "refresh_token"], response_types: ["code"], token_endpoint_auth_method: "none" };
  }
  clientInformation() {
    return this.info;
  }
  saveClientInformation(info: NonNullable<HostProvider["info"]>) {
    this.info = info;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens: NonNullable<HostProvider["saved"]>) {
    this.saved = tokens;
  }
  redirectToAuthorization(url: URL) {
    this.authorizationUrl = url;
  }
  saveCodeVerifier(verifier: string) {
    this.verifier = verifier;
  }
  codeVerifier() {
    return this.verifier;
  }
  saveDiscoveryState(state: OAuthDiscoveryState) {
    this.discovery = state;
  }
  discoveryState() {
    return this.discovery;
  }
  invalidateCredentials(scope: "all" | "client" | "tokens" | "verifier" | "discovery") {
    if (scope === "all" || scope === "tokens") this.saved = undefined;
    if (scope === "all" || scope === "client") this.info = undefined;
    if (scope === "all" || scope === "verifier") this.verifier = "";
    if (scope === "all" || scope === "discovery") this.discovery = undefined;
  }
}

/**
 * The human's part of the agent-first path, by hand: opens `authorizationUrl`
 * with a cookie jar (every request on whichever instance `baseUrl` reaches),
 * presses "Start a new agent account" on the consent page, and follows the
 * redirects back. Returns where the host was sent back to, with its code.
 */
export async function agentFirstConsent(baseUrl: string, authorizationUrl: URL): Promise<URL> {
  const jar = new Map<string, string>();
  const browse = async (path: string, init: RequestInit = {}) => {
    const cookie = [...jar].map(([name, value]) => `${name}=${value}`).join("; ");
    const response = await fetch(new URL(path, baseUrl), { redirect: "manual", ...init, headers: { ...(init.headers as Record<string, string>), cookie } });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const at = pair!.indexOf("=");
      jar.set(pair!.slice(0, at), pair!.slice(at + 1));
    }
    return { status: response.status, location: response.headers.get("location"), text: await response.text() };
  };
  const consent = await browse((await browse(authorizationUrl.pathname + authorizationUrl.search)).location!);
  const form = /action="(\/oauth\/interaction\/[^"]+\/new-agent)"><input type="hidden" name="csrf" value="([^"]+)">/.exec(consent.text);
  if (!form) throw new Error(`no consent page: ${consent.status} ${consent.text.slice(0, 200)}`);
  const created = await browse(form[1]!, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ csrf: form[2]! }).toString() });
  let next = /<a class="button" href="([^"]+)">Continue to /.exec(created.text)![1]!.replaceAll("&amp;", "&");
  for (let hops = 0; !next.startsWith(HOST_REDIRECT); hops++) {
    if (hops === 5) throw new Error(`no way back to the host from ${next}`);
    const at = new URL(next, baseUrl);
    next = (await browse(at.pathname + at.search)).location!;
  }
  return new URL(next);
}

/** The whole dance for a host that takes the agent-first path; afterwards `provider` holds the tokens. */
export async function connectAgentFirst(baseUrl: string, provider: HostProvider): Promise<void> {
  const serverUrl = `${baseUrl}/mcp`;
  if ((await auth(provider, { serverUrl })) !== "REDIRECT") throw new Error("the host was not sent to sign in");
  const back = await agentFirstConsent(baseUrl, provider.authorizationUrl!);
  const authorizationCode = back.searchParams.get("code");
  if (!authorizationCode) throw new Error(`the host got no code: ${back}`);
  if ((await auth(provider, { serverUrl, authorizationCode, iss: back.searchParams.get("iss") ?? undefined })) !== "AUTHORIZED") {
    throw new Error("the code exchange failed");
  }
}
