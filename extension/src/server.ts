// Starts and supervises `ttvis server` (JSON-RPC over stdio) with vscode-languageclient,
// after finding a Python interpreter that can import ttvis.
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as vscode from "vscode";
import { CloseAction, ErrorAction, LanguageClient, LanguageClientOptions, ServerOptions, State } from "vscode-languageclient/node";

function run(cmd: string, args: string[]): Promise<{ ok: boolean; out: string }> {
  return new Promise((resolve) => execFile(cmd, args, { timeout: 60_000 }, (err, stdout, stderr) => resolve({ ok: !err, out: `${stdout}${stderr}` })));
}

/** The interpreter: setting `ttvis.python`, else the Python extension's active environment, else python3. */
export async function findPython(): Promise<string> {
  const configured = vscode.workspace.getConfiguration("ttvis").get<string>("python");
  if (configured) return configured;
  const ext = vscode.extensions.getExtension("ms-python.python");
  if (ext) {
    try {
      const api: any = ext.isActive ? ext.exports : await ext.activate();
      const env = api?.environments?.getActiveEnvironmentPath?.();
      const resolved = env ? await api.environments.resolveEnvironment(env) : undefined;
      const exe = resolved?.executable?.uri?.fsPath ?? env?.path;
      if (exe) return exe;
    } catch {
      /* fall back */
    }
  }
  return process.platform === "win32" ? "python" : "python3";
}

export class ServerManager implements vscode.Disposable {
  client: LanguageClient | undefined;
  private readonly listeners: ((c: LanguageClient) => void)[] = [];
  private restarts = 0;

  constructor(private readonly context: vscode.ExtensionContext, readonly output: vscode.OutputChannel) {}

  /** Run ``fn`` with the client now (if running) and after every (re)start. */
  onClient(fn: (c: LanguageClient) => void): void {
    this.listeners.push(fn);
    if (this.client?.state === State.Running) fn(this.client);
  }

  async start(): Promise<LanguageClient | undefined> {
    const python = await findPython();
    const check = await run(python, ["-c", "import ttvis, sys; print(ttvis.__version__)"]);
    if (!check.ok) {
      this.output.appendLine(`ttvis is not importable with ${python}: ${check.out.trim()}`);
      const project = path.resolve(this.context.extensionPath); // the repository (development) or the bundled wheel dir
      const choice = await vscode.window.showWarningMessage(
        `The ttvis Python package is not installed for ${python}.`, "Install ttvis", "Choose Interpreter Setting");
      if (choice === "Install ttvis") {
        const wheel = path.join(project, "python");
        const target = fs.existsSync(wheel) ? ["--find-links", wheel, "ttvis"] : ["-e", project];
        const res = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: "Installing ttvis…" },
          () => run(python, ["-m", "pip", "install", ...target]));
        this.output.appendLine(res.out);
        if (!res.ok) {
          vscode.window.showErrorMessage("Installing ttvis failed; see the ttvis output channel.");
          return undefined;
        }
      } else {
        if (choice) void vscode.commands.executeCommand("workbench.action.openSettings", "ttvis.python");
        return undefined;
      }
    } else {
      this.output.appendLine(`using ${python} (ttvis ${check.out.trim()})`);
    }
    const serverOptions: ServerOptions = { command: python, args: ["-m", "ttvis.cli", "server"], options: { env: { ...process.env, PYTHONUNBUFFERED: "1" } } };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [],
      outputChannel: this.output,
      errorHandler: {
        error: () => ({ action: ErrorAction.Continue }),
        closed: () => {
          this.restarts++;
          if (this.restarts > 5) {
            vscode.window.showErrorMessage("The ttvis server stopped repeatedly; see the ttvis output. Use 'ttvis: Restart Server' to try again.");
            return { action: CloseAction.DoNotRestart };
          }
          vscode.window.showWarningMessage("The ttvis server stopped; restarting it.");
          return { action: CloseAction.Restart };
        },
      },
    };
    this.client = new LanguageClient("ttvis", "ttvis", serverOptions, clientOptions);
    this.client.onDidChangeState((e) => {
      if (e.newState === State.Running) for (const fn of this.listeners) fn(this.client!);
    });
    await this.client.start();
    return this.client;
  }

  async restart(): Promise<void> {
    this.restarts = 0;
    if (this.client) {
      await this.client.stop().catch(() => undefined);
      this.client = undefined;
    }
    await this.start();
  }

  async request<T = any>(method: string, params: unknown): Promise<T> {
    if (!this.client) await this.start();
    if (!this.client) throw new Error("the ttvis server is not running");
    return this.client.sendRequest(method, params) as Promise<T>;
  }

  dispose(): void {
    void this.client?.stop();
  }
}
