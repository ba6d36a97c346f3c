// Starts and supervises `ttvis server` (JSON-RPC over stdio) with vscode-languageclient, after
// finding a Python interpreter that can import ttvis (python.ts) or setting one up.
import * as vscode from "vscode";
import { CloseAction, ErrorAction, LanguageClient, LanguageClientOptions, ServerOptions, State } from "vscode-languageclient/node";
import { Candidate, Probe, candidates, installTtvis, probe } from "./python";

export class ServerManager implements vscode.Disposable {
  client: LanguageClient | undefined;
  python: string | undefined;
  private readonly listeners: ((c: LanguageClient) => void)[] = [];
  private restarts = 0;
  private starting: Promise<LanguageClient | undefined> | undefined;

  constructor(private readonly context: vscode.ExtensionContext, readonly output: vscode.OutputChannel) {}

  /** Run ``fn`` with the client now (if running) and after every (re)start. */
  onClient(fn: (c: LanguageClient) => void): void {
    this.listeners.push(fn);
    if (this.client?.state === State.Running) fn(this.client);
  }

  /** Start the server once (concurrent callers share the start). */
  start(): Promise<LanguageClient | undefined> {
    this.starting ??= this.doStart().finally(() => { this.starting = undefined; });
    return this.starting;
  }

  private async choosePython(): Promise<string | undefined> {
    const tried: [Candidate, Probe][] = [];
    for (const c of await candidates(this.context)) {
      const p = await probe(c.python);
      tried.push([c, p]);
      if (p.ttvis) {
        this.output.appendLine(`using ${p.executable ?? c.python} (${c.source}; Python ${p.version}, ttvis ${p.ttvis})`);
        return c.python;
      }
      this.output.appendLine(`${c.python} (${c.source}): ${p.ok ? `ttvis not importable (${p.error})` : `did not run: ${p.error}`}`);
    }
    const [first, fp] = tried[0];
    const base = tried.find(([, p]) => p.ok)?.[0].python;
    const installHere = fp.ok && fp.venv ? `Install into ${first.source}` : undefined;
    const create = base ? "Create ttvis Environment" : undefined;
    const why = !fp.ok ? `${first.python} (${first.source}) did not run`
      : `${first.python} (${first.source}) does not have it` + (fp.venv ? "" : ", and it is not a virtual environment, so ttvis will not install into it");
    const choice = await vscode.window.showWarningMessage(
      `ttvis needs its Python package: ${why}.` + (create ? " It can create a Python environment of its own and install ttvis there." : ""),
      ...[installHere, create, "Choose Interpreter Setting"].filter((x): x is string => !!x));
    if (choice && choice === installHere) return installTtvis(this.context, this.output, { python: first.python }).then((p) => this.installed(p));
    if (choice && choice === create && base) return installTtvis(this.context, this.output, { base }).then((p) => this.installed(p));
    if (choice === "Choose Interpreter Setting") void vscode.commands.executeCommand("workbench.action.openSettings", "ttvis.python");
    return undefined;
  }

  private installed(python: string | undefined): string | undefined {
    if (!python) void vscode.window.showErrorMessage("Installing ttvis failed; see the ttvis output channel.");
    return python;
  }

  private async doStart(): Promise<LanguageClient | undefined> {
    const python = await this.choosePython();
    if (!python) return undefined;
    this.python = python;
    const logLevel = vscode.workspace.getConfiguration("ttvis").get<string>("server.logLevel", "INFO");
    const serverOptions: ServerOptions = {
      command: python, args: ["-m", "ttvis", "server"],
      options: { env: { ...process.env, PYTHONUNBUFFERED: "1", TTVIS_LOG_LEVEL: logLevel } },
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [],
      outputChannel: this.output,
      // the server imports a run's model.py (user code) only in a trusted workspace
      initializationOptions: () => ({ trusted: vscode.workspace.isTrusted, logLevel,
        vectorUri: vscode.workspace.getConfiguration("ttvis").get<string>("vectorStore.uri", ""),
        // the user's Ray setting for jobs the server resumes (a job note in the workspace never names one)
        ray: vscode.workspace.getConfiguration("ttvis").get<string>("ray", "") }),
      errorHandler: {
        error: () => ({ action: ErrorAction.Continue }),
        closed: () => {
          this.restarts++;
          if (this.restarts > 5) {
            void vscode.window.showErrorMessage("The ttvis server stopped repeatedly; see the ttvis output. Use 'ttvis: Restart Server' to try again.");
            return { action: CloseAction.DoNotRestart };
          }
          void vscode.window.showWarningMessage("The ttvis server stopped; restarting it.");
          return { action: CloseAction.Restart };
        },
      },
    };
    const client = new LanguageClient("ttvis", "ttvis", serverOptions, clientOptions);
    this.client = client;
    client.onDidChangeState((e) => {
      if (e.newState === State.Running) for (const fn of this.listeners) fn(client);
    });
    await client.start();
    return client;
  }

  /** Stop the server (shutdown + exit; the process ends and running jobs stop, finished epochs kept). */
  async stop(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    if (c) await c.stop(4000).catch(() => undefined);
  }

  async restart(): Promise<void> {
    this.restarts = 0;
    await this.starting?.catch(() => undefined);
    await this.stop();
    await this.start();
  }

  async request<T = any>(method: string, params: unknown): Promise<T> {
    if (!this.client) await this.start();
    if (!this.client) throw new Error("the ttvis server is not running (see the ttvis output channel)");
    return this.client.sendRequest(method, params) as Promise<T>;
  }

  dispose(): void {
    void this.stop();
  }
}
