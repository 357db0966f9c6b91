import type { CallerContext } from "../tools/tool.js";

/** A resource at one fixed URI, read as JSON for the caller. */
export interface FixedResourceDef {
  name: string;
  uri: string;
  title: string;
  description: string;
  read(ctx: CallerContext): Promise<unknown>;
}

/** A family of resources behind a URI template, listed and read for the caller. */
export interface TemplateResourceDef {
  name: string;
  uriTemplate: string;
  title: string;
  description: string;
  list(ctx: CallerContext): Promise<Array<{ uri: string; name: string; title?: string }>>;
  read(ctx: CallerContext, variables: Record<string, string | string[]>): Promise<unknown>;
}
