// The page while a training job runs on the run and method it shows (issue item 11): a neutral
// progress note instead of "no results", the first epoch drawn when it lands, and how the job ended.
// Real headless Chromium against a real `ttvis serve --trust` (the digits run has a model.py).
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { REPO, launch, makeDigitsRun, openPage, rpc, startServe } from "./harness.mjs";

const SHOTS = path.join(REPO, "out", "screenshots");
mkdirSync(SHOTS, { recursive: true });

let server, browser, root, run;
// the method's parameters, and the run settings (a server that predates `run` takes its defaults)
const PARAMS = { max_epochs: 3, first_epochs: 5 };
const RUN = { resolution: 32, device: "cpu" };

before(async () => {
  ({ root, run } = makeDigitsRun(3, { visualize: false })); // recorded, no visualize/ results
  server = await startServe(root, { trust: true });
  browser = await launch();
}, { timeout: 400_000 });

after(async () => {
  await browser?.close();
  server?.stop();
});

const statusOf = (pg) => pg.evaluate(() => {
  const s = document.getElementById("status");
  return { text: s.textContent, error: s.classList.contains("error"), drawn: window.__ttvis.drawn ?? null };
});

test("while a job trains the shown method the page shows its progress, then draws each epoch", async () => {
  const url = `${server.url}&run=${encodeURIComponent(run)}&method=DVI`;
  const { page: early, errors: e1 } = await openPage(browser, url);
  let p2 = null, e2 = [];
  try {
    assert.match((await statusOf(early)).text, /no DVI results .*train it first/);

    const job = await rpc(early, server, "ttvis/train", { path: run, method: "DVI", epochs: "1-3", params: PARAMS, run: RUN });
    assert.equal(job.method, "DVI");
    // a page already open follows the job's notifications: the "no results" error gives way to progress
    await early.waitForFunction(() => {
      const s = document.getElementById("status");
      return /^Training DVI/.test(s.textContent) && !s.classList.contains("error");
    }, null, { timeout: 60_000 });

    // a page opened while the job runs learns about it from ttvis/describe
    ({ page: p2, errors: e2 } = await openPage(browser, url));
    const st = await statusOf(p2);
    assert.equal(st.error, false, st.text);
    assert.match(st.text, /^Training DVI/);
    if (!st.drawn) assert.match(st.text, /first frame appears when its first epoch is done/);
    await p2.screenshot({ path: path.join(SHOTS, "webview-training.png") });

    // both draw the epochs as they land and end on the last, with every point
    for (const pg of [early, p2]) {
      await pg.waitForFunction(() => window.__ttvis.drawn?.epoch === 3, null, { timeout: 300_000 });
      await pg.waitForFunction(() => /^Training DVI done/.test(document.getElementById("status").textContent), null, { timeout: 60_000 });
      const s = await statusOf(pg);
      assert.equal(s.error, false);
      assert.equal(s.drawn.total, 1797);
      assert.equal(s.drawn.visible, 1797);
      assert.equal(await pg.evaluate(() => window.__ttvis.plot.get("points").length), 1797);
      assert.equal(await pg.textContent("#epochLabel"), "epoch 3 / 3");
      assert.equal(await pg.textContent("#partial"), "");
    }
    assert.deepEqual(e1, []);
    assert.deepEqual(e2, []);
  } finally {
    await p2?.close();
    await early.close();
  }
});

test("a cancelled job says so, and the partial results say how far they got", async (t) => {
  const url = `${server.url}&run=${encodeURIComponent(run)}&method=DVI`;
  const { page, errors } = await openPage(browser, url);
  try {
    await page.waitForFunction(() => window.__ttvis.drawn?.epoch === 3, null, { timeout: 30_000 });
    // restart: the same request would otherwise continue the finished results (nothing to do)
    const job = await rpc(page, server, "ttvis/train", { path: run, method: "DVI", epochs: "1-3", params: PARAMS, run: RUN, restart: true });
    // cancel once the job's first epoch has landed (the page then shows the new results' epoch 1)
    await page.waitForFunction(() => window.__ttvis.drawn?.epoch === 1 ||
      /^Training DVI (done|cancelled|failed)/.test(document.getElementById("status").textContent), null, { timeout: 180_000 });
    assert.equal((await statusOf(page)).drawn.epoch, 1, `the new results' first epoch is drawn (${(await statusOf(page)).text})`);
    const c = await rpc(page, server, "ttvis/cancel", { job: job.job });
    await page.waitForFunction(() => /^Training DVI (cancelled|done)/.test(document.getElementById("status").textContent), null, { timeout: 120_000 });
    const s = await statusOf(page);
    t.diagnostic(`cancel answered ${JSON.stringify(c)}; status: ${s.text}; partial: ${await page.textContent("#partial")}`);
    assert.equal(s.error, false);
    if (/cancelled/.test(s.text)) {
      await page.waitForFunction(() => document.getElementById("partial").textContent !== "", null, { timeout: 10_000 });
      assert.match(await page.textContent("#partial"), /^partial: [12]\/3 epochs$/);
    } else {
      assert.notEqual(c.status, "cancelled", "the job finished before the cancel reached it");
    }
    assert.doesNotMatch(s.text, /epoch \d\/3 —/, "no progress note is left behind");
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
  }
});
