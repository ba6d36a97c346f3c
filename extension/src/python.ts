// Which Python runs the ttvis server: candidates in order, a probe of each, and a ttvis
// environment of our own (a venv in the extension's global storage) to install into.
// ttvis is never pip-installed into an interpreter that is not a virtual environment.
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as vscode from "vscode";

/** One interpreter we could use, and where it came from (shown to the user). */
export interface Candidate {
  python: string;
  source: "ttvis.python setting" | "Python extension" | "ttvis environment" | "python3 on PATH";
}

/** What a probe of an interpreter found. */
export interface Probe {
  ok: boolean; // it ran
  ttvis?: string; // ttvis version when importable
  venv: boolean; // a virtual environment (or conda env), safe to install into
  executable?: string;
  version?: string;
  error?: string;
}

/** Run a command; never rejects. */
export function run(cmd: string, args: string[], timeoutMs = 60_000): Promise<{ ok: boolean; out: string }> {
  return new Promise((resolve) => execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 << 20 },
    (err, stdout, stderr) => resolve({ ok: !err, out: `${stdout}${stderr}` })));
}

const PROBE = [
  "import json, os, sys",
  "v = e = None",
  "try:\n    import ttvis; v = ttvis.__version__\nexcept Exception as x:\n    e = f'{type(x).__name__}: {x}'",
  "venv = sys.prefix != getattr(sys, 'base_prefix', sys.prefix) or os.path.isdir(os.path.join(sys.prefix, 'conda-meta'))",
  "print(json.dumps({'ttvis': v, 'error': e, 'venv': venv, 'executable': sys.executable, 'version': sys.version.split()[0]}))",
].join("\n");

/** Ask ``python`` whether ttvis imports and whether it is a virtual environment. */
export async function probe(python: string): Promise<Probe> {
  const r = await run(python, ["-c", PROBE]);
  const line = r.out.trim().split("\n").filter((l) => l.startsWith("{")).pop();
  if (!r.ok || !line) return { ok: false, venv: false, error: r.out.trim() || `${python} did not run` };
  const j = JSON.parse(line);
  return { ok: true, ttvis: j.ttvis ?? undefined, venv: !!j.venv, executable: j.executable, version: j.version, error: j.error ?? undefined };
}

/** The folder of the extension's own ttvis environment. */
export function managedEnv(context: vscode.ExtensionContext): string {
  return path.join(context.globalStorageUri.fsPath, "venv");
}

function envPython(dir: string): string {
  return process.platform === "win32" ? path.join(dir, "Scripts", "python.exe") : path.join(dir, "bin", "python");
}

/** The Python extension's active interpreter for the first workspace folder, if it is installed. */
async function pythonExtensionInterpreter(): Promise<string | undefined> {
  const ext = vscode.extensions.getExtension("ms-python.python");
  if (!ext) return undefined;
  try {
    const api: any = ext.isActive ? ext.exports : await ext.activate();
    const env = api?.environments?.getActiveEnvironmentPath?.(vscode.workspace.workspaceFolders?.[0]?.uri);
    const resolved = env ? await api.environments.resolveEnvironment(env) : undefined;
    return resolved?.executable?.uri?.fsPath ?? env?.path;
  } catch {
    return undefined;
  }
}

/** Subscribe to the Python extension's interpreter changes (if it is installed). */
export async function onPythonExtensionChange(fn: () => void): Promise<vscode.Disposable | undefined> {
  const ext = vscode.extensions.getExtension("ms-python.python");
  if (!ext) return undefined;
  try {
    const api: any = ext.isActive ? ext.exports : await ext.activate();
    return api?.environments?.onDidChangeActiveEnvironmentPath?.(fn);
  } catch {
    return undefined;
  }
}

/** Interpreters to try, in order: the setting, the Python extension's, our ttvis environment, python3. */
export async function candidates(context: vscode.ExtensionContext): Promise<Candidate[]> {
  const out: Candidate[] = [];
  const configured = vscode.workspace.getConfiguration("ttvis").get<string>("python");
  if (configured) return [{ python: configured, source: "ttvis.python setting" }];
  const fromExt = await pythonExtensionInterpreter();
  if (fromExt) out.push({ python: fromExt, source: "Python extension" });
  const own = envPython(managedEnv(context));
  if (fs.existsSync(own)) out.push({ python: own, source: "ttvis environment" });
  out.push({ python: process.platform === "win32" ? "python" : "python3", source: "python3 on PATH" });
  return out;
}

/** What pip should install: the wheel bundled in the .vsix (python/), else this checkout (development). */
export function installTarget(context: vscode.ExtensionContext): string[] {
  const wheels = path.join(context.extensionPath, "python");
  return fs.existsSync(wheels) ? ["--find-links", wheels, "ttvis"] : ["-e", context.extensionPath];
}

/**
 * Install ttvis into ``python``, which must be a virtual environment, or create the extension's
 * own environment from ``base`` first (``python -m venv``). Returns the interpreter to use, or
 * undefined when it failed (the log says why).
 */
export async function installTtvis(context: vscode.ExtensionContext, output: vscode.OutputChannel,
                                   target: { python: string } | { base: string }): Promise<string | undefined> {
  return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: "Setting up ttvis", cancellable: false },
    async (progress) => {
      let python: string;
      if ("base" in target) {
        const dir = managedEnv(context);
        progress.report({ message: `creating a Python environment in ${dir}` });
        fs.mkdirSync(path.dirname(dir), { recursive: true });
        const r = await run(target.base, ["-m", "venv", dir], 300_000);
        output.appendLine(r.out);
        if (!r.ok) return undefined;
        python = envPython(dir);
      } else {
        const p = await probe(target.python);
        if (!p.venv) { // never into a system interpreter
          output.appendLine(`refusing to install into ${target.python}: not a virtual environment`);
          return undefined;
        }
        python = target.python;
      }
      progress.report({ message: `installing ttvis into ${python} (pip; this can take a few minutes)` });
      const r = await run(python, ["-m", "pip", "install", ...installTarget(context)], 1_800_000);
      output.appendLine(r.out);
      return r.ok ? python : undefined;
    });
}
