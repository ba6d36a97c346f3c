// Builds the webview bundle (once) and the extension.
//   out/webview/{main.js,main.css,body.html}  -> loaded by the VS Code webview via asWebviewUri
//   pybackend/ttvis/static/webview/           -> served by `ttvis serve` (same bundle)
//   out/extension.js                          -> the extension host entry point
// The served copy is committed to git, so every pip install (editable, wheel, sdist) has the real page
// without Node. The output is byte-for-byte deterministic (same sources, lockfile and tsconfig.json give
// the same bytes, in any folder), and `make check-page` (run by `make test-node`) fails when a build
// changes it: commit the rebuilt page together with the webview/ change.
import * as esbuild from "esbuild";
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";

const web = "out/webview";
const served = "pybackend/ttvis/static/webview";
const lf = (path) => readFileSync(path, "utf8").replace(/\r\n/g, "\n"); // same bytes whatever a checkout's line endings
mkdirSync(web, { recursive: true });
rmSync(served, { recursive: true, force: true }); // exactly this build's files: a dropped asset shows as a deletion
mkdirSync(`${served}/assets`, { recursive: true });

await esbuild.build({
  entryPoints: ["webview/src/main.ts"], bundle: true, format: "iife", target: "es2020",
  minify: true, sourcemap: false, outfile: `${web}/main.js`, logLevel: "warning",
});
await esbuild.build({
  entryPoints: ["extension/src/extension.ts"], bundle: true, platform: "node", format: "cjs", target: "node18",
  external: ["vscode"], outfile: "out/extension.js", logLevel: "warning",
});
copyFileSync("webview/main.css", `${web}/main.css`);
copyFileSync("webview/body.html", `${web}/body.html`);
copyFileSync(`${web}/main.js`, `${served}/assets/main.js`);
writeFileSync(`${served}/assets/main.css`, lf("webview/main.css"));
writeFileSync(`${served}/index.html`, lf("webview/index.html").replace("%BODY%", () => lf("webview/body.html")));
console.log("built out/extension.js, out/webview/, pybackend/ttvis/static/webview/");
