import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { projectRoot } from "./processes.js";

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), "utf8");

describe("LICENSE", () => {
  test("is the MIT licence package.json names, for the agent-onboard contributors", () => {
    expect(JSON.parse(read("package.json")).license).toBe("MIT");
    const license = read("LICENSE");
    expect(license.split("\n")[0]).toBe("MIT License");
    expect(license).toContain("Copyright (c) 2026 agent-onboard contributors");
    expect(license).toContain('THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND');
  });

  test("is in the npm package", () => {
    // npm always packs LICENSE, whatever "files" says; this checks that nothing (.npmignore, "files") changes that.
    const [pack] = JSON.parse(
      execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: projectRoot, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }),
    ) as [{ files: { path: string }[] }];
    expect(pack.files.map((file) => file.path)).toContain("LICENSE");
  });
});
