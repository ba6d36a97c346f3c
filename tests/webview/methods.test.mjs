// The page learns the methods from the server: a method defined only in a Python test file
// (tests/python/test_method_seam.py, loaded through TTVIS_METHOD_MODULES) is drawn with its territories,
// a baseline without an inverse map says so, and the method picker switches between them.
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, test } from "node:test";
import { REPO, launch, makeRun, openPage, startServe } from "./harness.mjs";

const ENV = { TTVIS_METHOD_MODULES: path.join(REPO, "tests/python/test_method_seam.py") };
let server, browser, run;

before(async () => {
  ({ run } = makeRun(3, [["TestPlane", { zoom: 2 }, { device: "cpu", resolution: 64 }], ["UMAP", { n_epochs: 30 }, { device: "cpu" }]], ENV));
  server = await startServe(path.dirname(run), { env: ENV });
  browser = await launch();
}, { timeout: 400_000 });

after(async () => {
  await browser?.close();
  server?.stop();
});

const drawnOf = (page) => page.waitForFunction(() => window.__ttvis.drawn?.total === 1797, null, { timeout: 60_000 });

test("a method defined in a test file is drawn over its territories", async () => {
  const { page, errors } = await openPage(browser, `${server.url}&run=${encodeURIComponent(run)}&method=TestPlane`);
  await drawnOf(page);
  assert.equal(await page.evaluate(() => !!window.__ttvis.plot.get("backgroundImage")), true);
  const corner = await page.locator("#metrics").innerText();
  assert.match(corner, /PPR train \d\.\d\d/);
  assert.match(corner, /temporal rank/);
  const options = await page.locator("#method option").allTextContents();
  assert.deepEqual(options.sort(), ["TestPlane", "UMAP"]);
  // switch to the baseline: no territories, and the corner says why there is no PPR
  await page.locator("#method").selectOption("UMAP");
  await page.waitForFunction(() => document.getElementById("metrics").textContent.includes("no inverse map"), null, { timeout: 60_000 });
  assert.equal(await page.evaluate(() => window.__ttvis.drawn.total), 1797);
  assert.equal(await page.evaluate(() => !!window.__ttvis.plot.get("backgroundImage")), false);
  assert.deepEqual(errors, []);
  await page.close();
});

test("without a method in the URL the page shows one the run has results for", async () => {
  const { page } = await openPage(browser, `${server.url}&run=${encodeURIComponent(run)}`);
  await drawnOf(page);
  const shown = await page.locator("#method").inputValue();
  assert.ok(["UMAP", "TestPlane"].includes(shown), shown);
  await page.close();
});
