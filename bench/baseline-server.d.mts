import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";

export declare const BASELINE_TOOL: string;
export declare function createBaselineServer(): McpServer;
