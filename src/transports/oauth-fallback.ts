import { Router } from "express";

/**
 * This server has no OAuth authorization server yet, and publishes no
 * metadata that names one. An OAuth-capable host that gets a 401 still
 * guesses the default endpoints on this origin (RFC 8414's fallback); there it
 * gets an OAuth error whose description the host shows its user, instead of a
 * bare 404 that reads "Dynamic Client Registration rejected".
 */
export function oauthFallbackRouter() {
  const description =
    "agent-onboard has no OAuth sign-in: it takes an access token in the Authorization header. " +
    "The token in your MCP host's configuration was refused (invalid, expired or revoked). " +
    'Put a valid one there as "Authorization: Bearer <token>": call agent_signup without a token for a new agent account, ' +
    "or ask the human who claimed the account for a new token.";
  const router = Router();
  router.all(["/register", "/token", "/authorize"], (_req, res) => {
    res.status(400).json({ error: "invalid_request", error_description: description });
  });
  return router;
}
