// Thin activation: wires the server manager, the runs tree, the visualizer panel and the commands.
// All logic lives in the Python server (ttvis server); see DESIGN.md "Protocol". The methods and
// their parameters come from the server (ttvis/methods): no method is known here by name.
import * as path from "node:path";
import * as vscode from "vscode";
import { VIEW_TYPE, VisualizerPanel, VisualizerSerializer } from "./panel";
import { onPythonExtensionChange } from "./python";
import { ServerManager } from "./server";
import { askParameters, trainWithProgress } from "./training";
import { Node, RunsTree, describeState } from "./tree";

let manager: ServerManager | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const output = vscode.window.createOutputChannel("ttvis");
  const server = (manager = new ServerManager(context, output));
  const tree = new RunsTree(server);
  context.subscriptions.push(output, server, vscode.window.registerTreeDataProvider("ttvis.runs", tree));
  context.subscriptions.push(vscode.window.registerWebviewPanelSerializer(VIEW_TYPE, new VisualizerSerializer(context, server)));

  let refreshTimer: NodeJS.Timeout | undefined;
  const refreshSoon = (ms = 300) => {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(() => tree.refresh(), ms);
  };
  const toPanels = (method: string) => (p: any) => {
    for (const panel of VisualizerPanel.panels) panel.notify(method, p);
  };
  server.onClient((client) => {
    client.onNotification("ttvis/epochReady", (p) => { toPanels("ttvis/epochReady")(p); refreshSoon(); });
    client.onNotification("ttvis/trainProgress", (p) => { toPanels("ttvis/trainProgress")(p); refreshSoon(1000); });
    client.onNotification("ttvis/trainFinished", (p) => {
      toPanels("ttvis/trainFinished")(p);
      refreshSoon();
      const show = p.status === "failed" ? vscode.window.showErrorMessage : vscode.window.showInformationMessage;
      void show(`ttvis: ${p.method} on ${path.basename(p.path)}: ${p.message}`);
    });
    tree.refresh();
  });
  const watcher = vscode.workspace.createFileSystemWatcher("**/{dataset/representation/*.npy,epochs/epoch_*/embeddings.npy,Model/Epoch_*/*.{npy,pth},visualize/*/eval.json}");
  watcher.onDidCreate(() => refreshSoon());
  watcher.onDidDelete(() => refreshSoon());
  watcher.onDidChange(() => refreshSoon());
  context.subscriptions.push(watcher, vscode.workspace.onDidChangeWorkspaceFolders(() => refreshSoon()));

  // a new interpreter or log level takes a new server; trust granted later reaches the running one
  const restart = async (why: string) => {
    output.appendLine(`${why}: restarting the ttvis server`);
    await server.restart();
    tree.refresh();
  };
  context.subscriptions.push(vscode.workspace.onDidChangeConfiguration((e) => {
    if (["ttvis.python", "ttvis.server.logLevel", "ttvis.vectorStore.uri"].some((k) => e.affectsConfiguration(k))) void restart("settings changed");
  }));
  const pyWatch = await onPythonExtensionChange(() => {
    if (!vscode.workspace.getConfiguration("ttvis").get<string>("python")) void restart("the Python extension's interpreter changed");
  });
  if (pyWatch) context.subscriptions.push(pyWatch);
  context.subscriptions.push(vscode.workspace.onDidGrantWorkspaceTrust(() => {
    void server.client?.sendNotification("ttvis/setTrust", { trusted: true });
  }));

  async function pickRun(node: Node | undefined, trainedOnly: boolean): Promise<{ run: any; method: string } | undefined> {
    const { methods } = await server.request("ttvis/methods", {});
    const names: string[] = methods.map((m: any) => m.name);
    const cfgMethod = vscode.workspace.getConfiguration("ttvis").get<string>("defaultMethod") || names[0];
    if (node && node.kind !== "message") return { run: node.run, method: node.kind === "method" ? node.method : cfgMethod };
    const { runs } = await server.request("ttvis/discover", {});
    const items = runs
      .filter((r: any) => !trainedOnly || Object.values(r.methods ?? {}).some((m: any) => m.epochs?.length))
      .map((r: any) => ({ label: r.name, description: r.error ?? `${r.epochs.length} epochs · ${r.samples} samples`, detail: r.path, run: r }));
    if (!items.length) {
      void vscode.window.showWarningMessage(trainedOnly ? "No trained runs yet: use 'ttvis: Train Visualization Model…' first." : "No training runs in this workspace.");
      return undefined;
    }
    const pick = items.length === 1 ? items[0] : await vscode.window.showQuickPick(items, { placeHolder: "Training run" });
    if (!pick) return undefined;
    const states = pick.run.methods ?? {};
    const offered = trainedOnly ? names.filter((m) => states[m]?.epochs?.length) : names;
    const mItems = offered.map((m) => ({ label: m, description: states[m] ? describeState(states[m]) : "not trained",
      detail: methods.find((x: any) => x.name === m)?.description, picked: m === cfgMethod }));
    mItems.sort((a, b) => Number(b.label === cfgMethod) - Number(a.label === cfgMethod));
    const method = mItems.length === 1 ? mItems[0] : await vscode.window.showQuickPick(mItems, { placeHolder: "Visualization method" });
    return method ? { run: pick.run, method: method.label } : undefined;
  }

  const register = (id: string, fn: (...a: any[]) => unknown) => context.subscriptions.push(vscode.commands.registerCommand(id, fn));

  register("ttvis.openVisualizer", async (node?: Node) => {
    const t = await pickRun(node, true);
    if (t) VisualizerPanel.open(context, server, t.run.path, t.method);
  });

  register("ttvis.train", async (node?: Node) => {
    const t = await pickRun(node, false);
    if (!t) return;
    const { methods, run: runSchema } = await server.request("ttvis/methods", {});
    const info = methods.find((m: any) => m.name === t.method);
    if (!info) return void vscode.window.showErrorMessage(`ttvis: the server does not know the method ${t.method}`);
    const chosen = await askParameters(info, runSchema, t.run.name);
    if (!chosen) return;
    const ray = vscode.workspace.getConfiguration("ttvis").get<string>("ray", "");
    const request = { path: t.run.path, method: t.method, ...chosen, ...(ray ? { ray: ray === "local" ? true : ray } : {}) };
    await trainWithProgress(server, request, `Training ${t.method} on ${t.run.name}`, (job) => {
      output.appendLine(`training ${t.method} on ${t.run.path}: job ${job}`);
      refreshSoon();
      VisualizerPanel.open(context, server, t.run.path, t.method);
    });
  });

  register("ttvis.evaluate", async (node?: Node) => {
    const t = await pickRun(node, true);
    if (!t) return;
    try {
      const res = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Evaluating ${t.method}…` },
        () => server.request("ttvis/evaluate", { path: t.run.path, method: t.method }));
      const f = res.summary?.final ?? {};
      const tm = res.summary?.temporal ?? {};
      const num = (v: any) => (typeof v === "number" ? v.toFixed(3) : "–");
      // the papers' names for the papers' numbers (raw representations, as published)
      void vscode.window.showInformationMessage(`ttvis ${t.method}, last epoch: NPR train ${num(f.npr_train)}, test ${num(f.npr_test)}; `
        + `PPR train ${f.ppr_train === undefined || f.ppr_train === null ? "– (no inverse map)" : num(f.ppr_train)}; `
        + `temporal ranking (TimeVis, this epoch as reference) ${num(f.temporal_ranking)}; `
        + `run: stab_spearman (Vernier et al.) ${num(tm.stability)}, standardised ${num(tm.stability_standardised)}`);
    } catch (e: any) {
      void vscode.window.showErrorMessage(`ttvis: ${e?.message ?? e}`);
    }
    refreshSoon();
  });

  register("ttvis.compare", async (node?: Node) => {
    // two methods of one run, or one method on two runs of a model: both sides must have results
    const first = await pickRun(node, true);
    if (!first) return;
    const { runs } = await server.request("ttvis/discover", {});
    const options: (vscode.QuickPickItem & { path: string; method: string })[] = [];
    for (const r of runs) {
      for (const [m, st] of Object.entries<any>(r.methods ?? {})) {
        if (!st.epochs?.length || (r.path === first.run.path && m === first.method)) continue;
        options.push({ label: r.path === first.run.path ? m : `${r.name} · ${m}`, description: describeState(st), detail: r.path, path: r.path, method: m });
      }
    }
    if (!options.length) {
      void vscode.window.showWarningMessage("Nothing to compare with yet: train another method on this run (or this method on another run) first.");
      return;
    }
    options.sort((a, b) => Number(b.path === first.run.path) - Number(a.path === first.run.path));
    const other = options.length === 1 ? options[0] : await vscode.window.showQuickPick(options, { placeHolder: `Compare ${first.method} on ${first.run.name} with…` });
    if (other) VisualizerPanel.open(context, server, first.run.path, first.method, { path: other.path, method: other.method });
  });

  const watching = new Map<string, string>(); // run path -> job
  register("ttvis.watch", async (node?: Node) => {
    const t = await pickRun(node, false);
    if (!t) return;
    const { methods } = await server.request("ttvis/methods", {});
    if (!methods.find((m: any) => m.name === t.method)?.perEpoch) {
      void vscode.window.showWarningMessage(`ttvis: ${t.method} is fitted on all epochs at once; following a run needs a per-epoch method.`);
      return;
    }
    try {
      const res = await server.request("ttvis/watch", { path: t.run.path, method: t.method });
      watching.set(t.run.path, res.job);
      output.appendLine(`following ${t.run.path} with ${t.method}: job ${res.job}`);
      VisualizerPanel.open(context, server, t.run.path, t.method);
      refreshSoon();
    } catch (e: any) {
      void vscode.window.showErrorMessage(`ttvis: ${e?.message ?? e}`);
    }
  });
  register("ttvis.stopWatching", async () => {
    if (!watching.size) return void vscode.window.showInformationMessage("ttvis is not following any run.");
    for (const [runPath, job] of watching) {
      await server.request("ttvis/cancel", { job }).catch(() => undefined);
      output.appendLine(`stopped following ${runPath}`);
    }
    watching.clear();
    refreshSoon();
  });

  register("ttvis.refresh", () => tree.refresh());
  register("ttvis.restartServer", async () => {
    await server.restart();
    tree.refresh();
    void vscode.window.showInformationMessage("ttvis server restarted");
  });
  register("ttvis.revealInExplorer", (node?: Node) => {
    if (node && node.kind !== "message") void vscode.commands.executeCommand("revealInExplorer", vscode.Uri.file(node.run.path));
  });
  for (const [id, cmd] of [["ttvis.playPause", "playPause"], ["ttvis.nextEpoch", "next"], ["ttvis.previousEpoch", "previous"], ["ttvis.exportFrame", "export"]]) {
    register(id, () => {
      if (!VisualizerPanel.active) void vscode.window.showWarningMessage("Open the visualizer first (ttvis: Open Visualizer).");
      else VisualizerPanel.active.command(cmd);
    });
  }

  await server.start();
}

/** Stop the server process with the window (VS Code waits for this promise). */
export function deactivate(): Thenable<void> | undefined {
  return manager?.stop();
}
