// The compiled db client looks for migrations beside itself.
import { cpSync, rmSync } from "node:fs";

rmSync("dist/db/migrations", { recursive: true, force: true });
cpSync("db/migrations", "dist/db/migrations", { recursive: true });
