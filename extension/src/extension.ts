// Thin activation: wires the server manager, the runs tree, the visualizer panel and the commands.
// All logic lives in the Python server (ttvis server); see DESIGN.md "Protocol".
import * as vscode from "vscode";
import { VIEW_TYPE, VisualizerPanel, VisualizerSerializer } from "./panel";
import { ServerManager } from "./server";
import { Node, RunsTree } from "./tree";

const DVI_SETTINGS = ["n_neighbors", "lambda1", "lambda2", "max_epochs", "patience", "boundary_ratio"];

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const output = vscode.window.createOutputChannel("ttvis");
  const server = new ServerManager(context, output);
  const tree = new RunsTree(server);
  context.subscriptions.push(output, server, vscode.window.registerTreeDataProvider("ttvis.runs", tree));
  context.subscriptions.push(vscode.window.registerWebviewPanelSerializer(VIEW_TYPE, new VisualizerSerializer(context, server)));

  let refreshTimer: NodeJS.Timeout | undefined;
  const refreshSoon = () => {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(() => tree.refresh(), 300);
  };
  server.onClient((client) => {
    client.onNotification("ttvis/epochReady", (p) => {
      for (const panel of VisualizerPanel.panels) panel.notify("ttvis/epochReady", p);
      refreshSoon();
    });
    client.onNotification("ttvis/trainFinished", (p) => {
      for (const panel of VisualizerPanel.panels) panel.notify("ttvis/trainFinished", p);
      refreshSoon();
      const show = p.status === "failed" ? vscode.window.showErrorMessage : vscode.window.showInformationMessage;
      void show(`ttvis: ${p.method} on ${p.path.split(/[\\/]/).pop()}: ${p.message}`);
    });
    tree.refresh();
  });
  const watcher = vscode.workspace.createFileSystemWatcher("**/{dataset/representation/*.npy,epochs/epoch_*/embeddings.npy,Model/Epoch_*/*.{npy,pth},visualize/*/eval.json}");
  watcher.onDidCreate(refreshSoon);
  watcher.onDidDelete(refreshSoon);
  watcher.onDidChange(refreshSoon);
  context.subscriptions.push(watcher, vscode.workspace.onDidChangeWorkspaceFolders(refreshSoon));

  async function pickRun(node: Node | undefined, trainedOnly: boolean): Promise<{ path: string; method: string } | undefined> {
    const cfgMethod = vscode.workspace.getConfiguration("ttvis").get<string>("defaultMethod", "DVI");
    if (node && node.kind !== "message") return { path: node.run.path, method: node.kind === "method" ? node.method : cfgMethod };
    const { runs } = await server.request("ttvis/discover", {});
    const items = runs
      .filter((r: any) => !trainedOnly || Object.values(r.methods ?? {}).some((m: any) => m.epochs?.length))
      .map((r: any) => ({ label: r.name, description: r.error ?? `${r.epochs.length} epochs · ${r.samples} samples`, detail: r.path, run: r }));
    if (!items.length) {
      vscode.window.showWarningMessage(trainedOnly ? "No trained runs yet: use 'ttvis: Train Visualization Model…' first." : "No training runs in this workspace.");
      return undefined;
    }
    const pick = items.length === 1 ? items[0] : await vscode.window.showQuickPick(items, { placeHolder: "Training run" });
    if (!pick) return undefined;
    const methods = trainedOnly ? Object.keys(pick.run.methods).filter((m) => pick.run.methods[m].epochs?.length) : ["DVI"];
    const method = methods.length === 1 ? methods[0] : await vscode.window.showQuickPick(methods.length ? methods : [cfgMethod], { placeHolder: "Visualization method" });
    return method ? { path: pick.run.path, method } : undefined;
  }

  const register = (id: string, fn: (...a: any[]) => unknown) => context.subscriptions.push(vscode.commands.registerCommand(id, fn));

  register("ttvis.openVisualizer", async (node?: Node) => {
    const t = await pickRun(node, true);
    if (t) VisualizerPanel.open(context, server, t.path, t.method);
  });

  register("ttvis.train", async (node?: Node) => {
    const t = await pickRun(node, false);
    if (!t) return;
    const cfg = vscode.workspace.getConfiguration("ttvis");
    const params: Record<string, unknown> = { device: cfg.get("device", "auto") };
    // only a resolution the user set: otherwise the run's own (e.g. its config.json RESOLUTION) or DVI's default applies
    const res = cfg.inspect<number>("resolution");
    const setRes = res?.workspaceFolderValue ?? res?.workspaceValue ?? res?.globalValue;
    if (setRes !== undefined) params.resolution = setRes;
    for (const key of DVI_SETTINGS) {
      const v = cfg.get(`dvi.${key}`);
      if (v !== undefined && v !== null) params[key] = v;
    }
    const extra = await vscode.window.showInputBox({
      prompt: `Optional ${t.method} parameters (key=value, comma separated), e.g. lambda2=0.3, epochs=1-10`,
      placeHolder: "leave empty for the settings' values",
    });
    if (extra === undefined) return;
    let epochs: string | undefined;
    for (const part of extra.split(",").map((s) => s.trim()).filter(Boolean)) {
      const [k, v] = part.split("=").map((s) => s.trim());
      if (k === "epochs") epochs = v;
      else params[k] = isNaN(Number(v)) ? v : Number(v);
    }
    try {
      // the server reports $/progress; vscode-languageclient shows it with window.withProgress and a Cancel button
      const res = await server.request("ttvis/train", { path: t.path, method: t.method, params, epochs });
      output.appendLine(`training ${t.method} on ${t.path}: job ${res.job}, epochs ${res.epochs.join(",")}`);
      refreshSoon();
      VisualizerPanel.open(context, server, t.path, t.method);
    } catch (e: any) {
      vscode.window.showErrorMessage(`ttvis: ${e?.message ?? e}`);
    }
  });

  register("ttvis.evaluate", async (node?: Node) => {
    const t = await pickRun(node, true);
    if (!t) return;
    const res = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Evaluating ${t.method}…` },
      () => server.request("ttvis/evaluate", t));
    const f = res.summary?.final ?? {};
    const pct = (v: any) => (typeof v === "number" ? v.toFixed(3) : "–");
    vscode.window.showInformationMessage(`ttvis ${t.method}, last epoch: NPR train ${pct(f.npr_train)}, test ${pct(f.npr_test)}; PPR train ${pct(f.ppr_train)}; temporal ${pct(f.temporal_ranking)}`);
    refreshSoon();
  });

  register("ttvis.refresh", () => tree.refresh());
  register("ttvis.restartServer", async () => {
    await server.restart();
    tree.refresh();
    vscode.window.showInformationMessage("ttvis server restarted");
  });
  register("ttvis.revealInExplorer", (node?: Node) => {
    if (node && node.kind !== "message") void vscode.commands.executeCommand("revealInExplorer", vscode.Uri.file(node.run.path));
  });
  for (const [id, cmd] of [["ttvis.playPause", "playPause"], ["ttvis.nextEpoch", "next"], ["ttvis.previousEpoch", "previous"], ["ttvis.exportFrame", "export"]]) {
    register(id, () => {
      if (!VisualizerPanel.active) vscode.window.showWarningMessage("Open the visualizer first (ttvis: Open Visualizer).");
      else VisualizerPanel.active.command(cmd);
    });
  }

  await server.start();
}

export function deactivate(): void {
  /* the ServerManager is disposed with the context */
}
