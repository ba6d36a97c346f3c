// The visualizer webview: strict CSP with a nonce, assets through asWebviewUri, JSON-RPC relayed
// to the language client, state restored after reload by a serializer.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import * as vscode from "vscode";
import { ServerManager } from "./server";

export const VIEW_TYPE = "ttvis.visualizer";

/** The second side of a compare panel: another method on the same run, or the same method on another run. */
export interface CompareTarget {
  path: string;
  method: string;
}

export class VisualizerPanel {
  static panels = new Set<VisualizerPanel>();
  static active: VisualizerPanel | undefined;

  static open(context: vscode.ExtensionContext, server: ServerManager, runPath: string, method: string,
              compare?: CompareTarget): VisualizerPanel {
    for (const p of VisualizerPanel.panels) {
      if (p.runPath === runPath && p.method === method && p.compare?.path === compare?.path && p.compare?.method === compare?.method) {
        p.panel.reveal();
        return p;
      }
    }
    const title = compare
      ? `${path.basename(runPath)} · ${method} ⇄ ${compare.path === runPath ? "" : `${path.basename(compare.path)} · `}${compare.method}`
      : `${path.basename(runPath)} · ${method}`;
    // the constructor sets the webview options (also for panels restored by the serializer)
    const panel = vscode.window.createWebviewPanel(VIEW_TYPE, title, vscode.ViewColumn.One, { retainContextWhenHidden: true });
    return new VisualizerPanel(context, server, panel, runPath, method, compare);
  }

  constructor(private readonly context: vscode.ExtensionContext, private readonly server: ServerManager,
              readonly panel: vscode.WebviewPanel, readonly runPath: string, readonly method: string,
              readonly compare?: CompareTarget) {
    VisualizerPanel.panels.add(this);
    VisualizerPanel.active = this;
    panel.webview.options = { enableScripts: true, localResourceRoots: [vscode.Uri.joinPath(context.extensionUri, "out", "webview")] };
    panel.webview.html = this.html();
    panel.onDidChangeViewState(() => { if (panel.active) VisualizerPanel.active = this; });
    panel.onDidDispose(() => {
      VisualizerPanel.panels.delete(this);
      if (VisualizerPanel.active === this) VisualizerPanel.active = undefined;
    });
    panel.webview.onDidReceiveMessage(async (m) => {
      if (m?.type === "rpc") {
        const msg = m.message;
        if (msg.id === undefined || msg.method === undefined) return; // responses to server requests: nothing to relay
        try {
          const result = await this.server.request(msg.method, msg.params);
          void panel.webview.postMessage({ type: "rpc", message: { jsonrpc: "2.0", id: msg.id, result } });
        } catch (e: any) {
          void panel.webview.postMessage({ type: "rpc", message: { jsonrpc: "2.0", id: msg.id, error: { code: e?.code ?? -32603, message: e?.message ?? String(e) } } });
        }
      } else if (m?.type === "exportCsv" && typeof m.csv === "string") {
        const target = await vscode.window.showSaveDialog({
          defaultUri: vscode.Uri.file(path.join(this.runPath, String(m.name || "selection.csv"))), filters: { CSV: ["csv"] } });
        if (target) {
          await vscode.workspace.fs.writeFile(target, Buffer.from(m.csv, "utf8"));
          void vscode.window.showInformationMessage(`Saved ${target.fsPath}`);
        }
      } else if (m?.type === "exportFrame" && m.dataUrl) {
        const target = await vscode.window.showSaveDialog({
          defaultUri: vscode.Uri.file(path.join(this.runPath, `${this.method}-epoch${m.epoch}.png`)), filters: { PNG: ["png"] } });
        if (target) {
          await vscode.workspace.fs.writeFile(target, Buffer.from(String(m.dataUrl).split(",")[1], "base64"));
          vscode.window.showInformationMessage(`Saved ${target.fsPath}`);
        }
      }
    });
  }

  /** Forward a server notification (ttvis/epochReady, ttvis/trainFinished) to the page. */
  notify(method: string, params: unknown): void {
    void this.panel.webview.postMessage({ type: "rpc", message: { jsonrpc: "2.0", method, params } });
  }

  command(name: string): void {
    void this.panel.webview.postMessage({ type: "command", command: name });
  }

  private html(): string {
    const w = this.panel.webview;
    const base = vscode.Uri.joinPath(this.context.extensionUri, "out", "webview");
    const nonce = randomBytes(16).toString("base64");
    const body = readFileSync(path.join(base.fsPath, "body.html"), "utf8");
    const attr = (s: string) => s.replace(/&/g, "&amp;").replace(/"/g, "&quot;");
    // regl compiles its draw commands with new Function, hence 'unsafe-eval' (scripts still need the nonce)
    const csp = `default-src 'none'; img-src ${w.cspSource} data: blob:; style-src ${w.cspSource}; ` +
      `script-src 'nonce-${nonce}' 'unsafe-eval'; worker-src blob:; connect-src data: blob:;`;
    return `<!DOCTYPE html><html lang="en"><head><meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="${w.asWebviewUri(vscode.Uri.joinPath(base, "main.css"))}">
<title>ttvis</title></head>
<body data-path="${attr(this.runPath)}" data-method="${attr(this.method)}"${this.compare
  ? ` data-compare-path="${attr(this.compare.path)}" data-compare-method="${attr(this.compare.method)}"` : ""}>${body}
<script nonce="${nonce}" src="${w.asWebviewUri(vscode.Uri.joinPath(base, "main.js"))}"></script></body></html>`;
  }
}

/** Restores visualizer panels after a window reload (state saved by the page with setState). */
export class VisualizerSerializer implements vscode.WebviewPanelSerializer {
  constructor(private readonly context: vscode.ExtensionContext, private readonly server: ServerManager) {}

  async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: any): Promise<void> {
    if (!state?.path || !state?.method) {
      panel.dispose();
      return;
    }
    const compare = state.compare?.path && state.compare?.method ? { path: state.compare.path, method: state.compare.method } : undefined;
    new VisualizerPanel(this.context, this.server, panel, state.path, state.method, compare);
  }
}
