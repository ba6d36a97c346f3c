// Sidebar: every training run in the workspace (ttvis/discover), each with its vis methods' state.
import * as vscode from "vscode";
import { ServerManager } from "./server";

export type Node =
  | { kind: "run"; run: any }
  | { kind: "method"; run: any; method: string; state: any }
  | { kind: "message"; text: string };

export class RunsTree implements vscode.TreeDataProvider<Node> {
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  runs: any[] = [];

  constructor(private readonly server: ServerManager) {}

  refresh(): void {
    this.changed.fire(undefined);
  }

  async getChildren(node?: Node): Promise<Node[]> {
    if (!node) {
      try {
        const res = await this.server.request("ttvis/discover", {});
        this.runs = res.runs;
      } catch (e: any) {
        return [{ kind: "message", text: `ttvis server: ${e?.message ?? e}` }];
      }
      if (!this.runs.length) return [{ kind: "message", text: "No training runs in this workspace (dataset/representation/, epochs/epoch_E/ or Model/Epoch_E/ folders)" }];
      return this.runs.map((run) => ({ kind: "run", run }));
    }
    if (node.kind === "run") {
      const methods = { DVI: { state: "not trained" }, ...(node.run.methods ?? {}) };
      return Object.entries(methods).map(([method, state]) => ({ kind: "method", run: node.run, method, state }));
    }
    return [];
  }

  getTreeItem(node: Node): vscode.TreeItem {
    if (node.kind === "message") return new vscode.TreeItem(node.text);
    if (node.kind === "run") {
      const r = node.run;
      const item = new vscode.TreeItem(r.name, vscode.TreeItemCollapsibleState.Expanded);
      item.description = r.error ? r.error : `${r.epochs.length} epochs · ${r.samples} samples · ${r.task === "representation" ? "representations only" : `${r.classes.length} classes`}`;
      item.tooltip = r.path;
      item.contextValue = "ttvisRun";
      item.iconPath = new vscode.ThemeIcon("history");
      item.resourceUri = vscode.Uri.file(r.path);
      return item;
    }
    const s = node.state;
    const item = new vscode.TreeItem(node.method);
    const pct = (v: any) => (typeof v === "number" ? v.toFixed(2) : "–");
    item.description = s.state === "training" ? `training ${s.percentage ?? 0}%`
      : s.state === "trained" ? `trained · NPR ${pct(s.npr)} · PPR ${pct(s.ppr)}` : "not trained";
    item.contextValue = s.state === "trained" ? "ttvisMethodTrained" : "ttvisMethod";
    item.iconPath = new vscode.ThemeIcon(s.state === "trained" ? "pass" : s.state === "training" ? "sync~spin" : "circle-outline");
    item.command = s.state === "trained" ? { command: "ttvis.openVisualizer", title: "Open", arguments: [node] } : undefined;
    return item;
  }
}
