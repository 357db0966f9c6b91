import { fails, signUp, test } from "../fixture.js";
test("probe", async ({ env }) => {
  const { client } = await signUp(env);
  for (const a of [{ projectName: "a b", stackName: "x" }, { projectName: "w", stackName: "x", tags: { "": "x" } }, { projectName: "w", stackName: "x", tags: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`t${i}`, "x"])) }, { projectName: "w", stackName: "x", organization: "bad org" }])
    console.log(await fails(client, "create_stack", a));
  console.log(await fails(client, "list_stacks", { tagValue: "x" }));
  console.log(await fails(client, "list_stacks", { continuationToken: "abc" }));
  console.log(await fails(client, "list_stacks", { maxResults: 0 }));
});
