// The packaged extension (.vsix that `npm run package` builds, as make test does): what a user installs.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { PYTHON, REPO } from "../webview/harness.mjs";

const VSIX = process.env.TTVIS_VSIX || path.join(REPO, "ttvis.vsix");

test("every image the packaged README links to is inside the .vsix", () => {
  assert.ok(fs.existsSync(VSIX), `no ${VSIX}: run npm run package (make test does)`);
  const names = spawnSync(PYTHON, ["-c", "import sys, zipfile; print('\\n'.join(zipfile.ZipFile(sys.argv[1]).namelist()))", VSIX],
    { encoding: "utf8" }).stdout.split("\n");
  const readme = fs.readFileSync(path.join(REPO, "README.md"), "utf8");
  const links = [...readme.matchAll(/!\[[^\]]*\]\(([^)\s]+)\)/g)].map((m) => m[1]).filter((l) => !/^[a-z]+:/i.test(l));
  assert.ok(links.length >= 3, "the README shows pictures");
  for (const l of links) assert.ok(names.includes(`extension/${l}`), `${l} is linked from the README but not packaged`);
});
