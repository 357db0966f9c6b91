import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { runCli } from "./processes.js";

const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };

describe("agent-onboard (the built binary)", () => {
  test.each(["--version", "-v", "version"])("%s prints the version of package.json on stdout and exits 0", async (flag) => {
    const run = await runCli([flag], {});
    expect(run).toEqual({ code: 0, stdout: `agent-onboard ${version}\n`, stderr: "" });
  });

  test("--help lists the version command", async () => {
    const run = await runCli(["--help"], {});
    expect(run.code).toBe(0);
    expect(run.stderr).toContain("agent-onboard version");
    expect(run.stderr).toContain("--version, -v");
  });
});
