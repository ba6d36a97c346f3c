// Builds the webview bundle (once) and the extension.
//   out/webview/{main.js,main.css,body.html}  -> loaded by the VS Code webview via asWebviewUri
//   pybackend/ttvis/static/webview/           -> served by `ttvis serve` (same bundle)
//   out/extension.js                          -> the extension host entry point
import * as esbuild from "esbuild";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";

const web = "out/webview";
const served = "pybackend/ttvis/static/webview";
mkdirSync(web, { recursive: true });
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
copyFileSync(`${web}/main.css`, `${served}/assets/main.css`);
const body = readFileSync("webview/body.html", "utf8");
writeFileSync(`${served}/index.html`, readFileSync("webview/index.html", "utf8").replace("%BODY%", body));
console.log("built out/extension.js, out/webview/, pybackend/ttvis/static/webview/");
