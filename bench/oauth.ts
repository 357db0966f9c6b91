// Figure 7: what an OAuth access token costs a call. The same server and the same 32 clients calling
// get_current_user, as one account: once with the agent's own token (a JWT, verified once and cached, and one
// row read), once with an OAuth access token of a host connected through the agent-first path (its hash looked
// up, its grant and the account read).
import { rmSync } from "node:fs";
import { join } from "node:path";
import { type Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { connectAgentFirst, HostProvider } from "../test/oauth-host.js";
import { tempDir } from "./env.js";
import { callOk, cliPath, cpuMs, expectEra, interleave, median, newClient, now, perSecond, progress, type Row, spawnHttpServer } from "./lib.js";

const CLIENTS = 32;
const ROUNDS = 6;
const ROUND_MS = 2_000;

async function clientsWith(url: string, token: string): Promise<Client[]> {
  return Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      const client = newClient("bench-oauth", "modern");
      await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
      return expectEra(client, "modern");
    }),
  );
}

async function run(clients: Client[], serverPid: number) {
  let calls = 0;
  const cpuBefore = cpuMs(serverPid);
  const started = now();
  const deadline = started + ROUND_MS;
  await Promise.all(
    clients.map(async (client) => {
      while (now() < deadline) {
        await callOk(client, "get_current_user");
        calls++;
      }
    }),
  );
  return { rps: (calls * 1000) / (now() - started), cpuPerCallMs: (cpuMs(serverPid) - cpuBefore) / calls };
}

export async function oauthTokenCost(): Promise<Row[]> {
  progress(`7: get_current_user with an OAuth access token vs the agent's own token, ${CLIENTS} clients`);
  const dir = tempDir("oauth");
  const server = spawnHttpServer([cliPath, "serve"], {
    ONBOARD_DB: join(dir, "onboard.db"),
    ONBOARD_PORT: "0",
    ONBOARD_SIGNUPS_PER_HOUR: "0",
    ONBOARD_MAIL_DIR: join(dir, "mail"),
  });
  const clients: Client[] = [];
  try {
    const mcpUrl = await server.url;
    const base = new URL(mcpUrl).origin;
    // The host's agent account, and a token of its own for the same account (as the console's "give access" would issue).
    const host = new HostProvider("Bench host");
    await connectAgentFirst(base, host);
    const anonymous = newClient("bench-oauth-signup", "modern");
    await anonymous.connect(new StreamableHTTPClientTransport(new URL(mcpUrl)));
    clients.push(anonymous);
    const signup = await callOk(anonymous, "agent_signup", { agentName: "Bench JWT" });
    const jwtClients = await clientsWith(mcpUrl, (signup.structuredContent as { accessToken: string }).accessToken);
    const oauthClients = await clientsWith(mcpUrl, (await host.tokens())!.access_token);
    clients.push(...jwtClients, ...oauthClients);
    const jwt = () => run(jwtClients, server.child.pid!);
    const oauth = () => run(oauthClients, server.child.pid!);
    await jwt();
    await oauth(); // warm-up rounds
    const rounds = await interleave(ROUNDS, jwt, oauth);
    const baseRps = median(rounds.baseline.map((r) => r.rps));
    const subjRps = median(rounds.subject.map((r) => r.rps));
    const baseCpu = median(rounds.baseline.map((r) => r.cpuPerCallMs));
    const subjCpu = median(rounds.subject.map((r) => r.cpuPerCallMs));
    return [
      {
        figure: "7",
        what: `stateless Streamable HTTP, ${CLIENTS} concurrent clients, 2026-07-28: get_current_user with an OAuth access token vs the agent's own token, requests/s`,
        baseline: perSecond(baseRps),
        subject: perSecond(subjRps),
        ratio: subjRps / baseRps,
      },
      {
        figure: "7",
        what: "the same rounds: server CPU per request (ratio = requests per server CPU-second)",
        baseline: `${(baseCpu * 1000).toFixed(0)} µs`,
        subject: `${(subjCpu * 1000).toFixed(0)} µs`,
        ratio: baseCpu / subjCpu,
      },
    ];
  } finally {
    await Promise.allSettled(clients.map((client) => client.close()));
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
