import type { createMcpHandler, McpServer } from "@modelcontextprotocol/server";

export declare const BASELINE_TOOL: string;
export declare function createBaselineServer(): McpServer;
export declare function createBaselineHandler(): ReturnType<typeof createMcpHandler>;
