// Sidebar: every training run in the workspace (ttvis/discover), each with its vis methods' state.
// Methods come from the server (ttvis/methods); nothing here knows a method by name.
import * as vscode from "vscode";
import { ServerManager } from "./server";

export type Node =
  | { kind: "run"; run: any }
  | { kind: "method"; run: any; method: string; state: any }
  | { kind: "generation"; run: any; method: string; generation: any }
  | { kind: "message"; text: string };

const pct = (v: any) => (typeof v === "number" ? v.toFixed(2) : "–");

/** The run's temporal measures for a method's tooltip (`t`: its eval summary's `temporal`, when the
 * server sends it): the papers' names only for the papers' numbers (raw representations), the
 * standardised variant named as such; "" without them. */
export function temporalTooltip(t: any): string {
  if (!t || !("stability_standardised" in t)) return ""; // none, or an eval.json from before the published definitions
  const n = (v: any) => (typeof v === "number" ? v.toFixed(3) : "–");
  return `\ntemporal ranking, first epoch as reference (TimeVis) ${n(t.ranking_first)} · stab_spearman (Vernier et al.) ${n(t.stability)}`
    + ` · interslice kNN (M-PHATE) ${n(t.interslice_knn)}\nDynaVis: step Spearman ${n(t.dynavis_motion_spearman)} · direction ${n(t.dynavis_direction)}`
    + ` · neighbour change ${n(t.dynavis_neighbor_change)}\nstandardised: rank ${n(t.ranking_first_standardised)} · stability ${n(t.stability_standardised)}`;
}

/** One line saying where a method stands on a run (the tree's description, also used in pickers). */
export function describeState(s: any, hasInverse = true): string {
  if (s.pendingJob && s.state !== "training" && s.state !== "watching") {
    return `stopped ${s.pendingJob.kind} job: resumes ${s.pendingJob.resumes}`;
  }
  if (s.state === "training") {
    if (s.job === undefined && s.pid !== undefined) return `training (${s.by ?? "another ttvis process"}, pid ${s.pid})`;
    const at = s.total ? ` · epoch ${Math.min((s.done ?? 0) + 1, s.total)}/${s.total}` : "";
    return `training ${s.percentage ?? 0}%${at}${s.stage ? ` · ${s.stage}` : ""}`;
  }
  if (s.state !== "trained") return "not trained";
  const done = s.epochs?.length ?? 0;
  const head = s.planned && done < s.planned ? `partial: ${done}/${s.planned} epochs` : "trained";
  return `${head} · NPR ${pct(s.npr)} · ` + (hasInverse ? `PPR ${pct(s.ppr)}` : "no inverse map");
}

export class RunsTree implements vscode.TreeDataProvider<Node> {
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  runs: any[] = [];
  methods: any[] = [];

  constructor(private readonly server: ServerManager) {}

  refresh(): void {
    this.changed.fire(undefined);
  }

  async getChildren(node?: Node): Promise<Node[]> {
    if (!node) {
      try {
        const [res, m] = await Promise.all([this.server.request("ttvis/discover", {}), this.server.request("ttvis/methods", {})]);
        this.runs = res.runs;
        this.methods = m.methods;
      } catch (e: any) {
        return [{ kind: "message", text: `ttvis server: ${e?.message ?? e}` }];
      }
      if (!this.runs.length) return [{ kind: "message", text: "No training runs in this workspace (dataset/representation/, epochs/epoch_E/ or Model/Epoch_E/ folders)" }];
      return this.runs.map((run) => ({ kind: "run", run }));
    }
    if (node.kind === "run") {
      // the methods with results (or training now), and the default method so a fresh run can be trained
      const fallback = vscode.workspace.getConfiguration("ttvis").get<string>("defaultMethod") || this.methods[0]?.name;
      const shown = { ...(fallback ? { [fallback]: { state: "not trained" } } : {}), ...(node.run.methods ?? {}) };
      return Object.entries(shown).map(([method, state]) => ({ kind: "method", run: node.run, method, state }));
    }
    if (node.kind === "method") {
      // earlier results of this method, newest first (visualize/<METHOD>.history/, bounded by the server)
      return (node.state.history ?? []).map((generation: any) => ({ kind: "generation", run: node.run, method: node.method, generation }));
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
    if (node.kind === "generation") {
      const g = node.generation;
      const item = new vscode.TreeItem(`earlier: ${String(g.started).replace("T", " ")}`);
      const n = g.epochs?.length ?? 0;
      item.description = g.complete ? `${n} epochs` : `partial: ${n}/${g.planned?.length ?? "?"} epochs`;
      item.tooltip = `Earlier ${node.method} results, kept in\n${g.path}`;
      item.contextValue = "ttvisGeneration";
      item.iconPath = new vscode.ThemeIcon("archive");
      item.resourceUri = vscode.Uri.file(g.path);
      item.command = { command: "revealInExplorer", title: "Reveal", arguments: [vscode.Uri.file(g.path)] };
      return item;
    }
    const s = node.state;
    const info = this.methods.find((m) => m.name === node.method);
    const item = new vscode.TreeItem(node.method, s.history?.length ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None);
    item.description = describeState(s, info?.hasInverse ?? true);
    item.tooltip = info ? `${info.description}\n${info.paper ?? ""}${temporalTooltip(s.temporal)}` : undefined;
    const trained = s.state === "trained" || (s.state === "training" && s.epochs?.length);
    item.contextValue = trained ? "ttvisMethodTrained" : "ttvisMethod";
    item.iconPath = new vscode.ThemeIcon(s.state === "training" ? "sync~spin" : s.state !== "trained" ? "circle-outline"
      : s.planned && (s.epochs?.length ?? 0) < s.planned ? "warning" : "pass");
    item.command = trained ? { command: "ttvis.openVisualizer", title: "Open", arguments: [node] } : undefined;
    return item;
  }
}
