// Train Visualization Model…: parameter prompts built from the method's JSON Schema (ttvis/methods),
// then a cancellable notification that follows the server's work-done progress to the end.
import { randomBytes } from "node:crypto";
import * as vscode from "vscode";
import { WorkDoneProgress } from "vscode-languageclient/node";
import { ServerManager } from "./server";

/** A JSON Schema property as ttvis/methods sends it (pydantic's model_json_schema). */
interface Prop {
  type?: string;
  anyOf?: Prop[];
  items?: Prop;
  enum?: unknown[];
  default?: unknown;
  description?: string;
  title?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
}

function typeOf(p: Prop): string {
  return p.type ?? p.anyOf?.find((a) => a.type && a.type !== "null")?.type ?? "string";
}

function show(v: unknown): string {
  return Array.isArray(v) ? v.join(",") : v === undefined || v === null ? "–" : String(v);
}

/** Parse and check one typed value against its schema; returns [value] or an error message. */
export function parseValue(p: Prop, text: string): [unknown] | string {
  const t = typeOf(p);
  const s = text.trim();
  if (p.enum) return p.enum.map(String).includes(s) ? [p.enum.find((e) => String(e) === s)] : `one of ${p.enum.join(", ")}`;
  if (t === "boolean") return ["true", "false"].includes(s) ? [s === "true"] : "true or false";
  if (t === "array") {
    const parts = s.split(/[\s,]+/).filter(Boolean).map(Number);
    return parts.every((n) => Number.isInteger(n) && n > 0) ? [parts] : "positive integers separated by commas, e.g. 128,128";
  }
  if (t === "integer" || t === "number") {
    const n = Number(s);
    if (!s || !Number.isFinite(n)) return "a finite number";
    if (t === "integer" && !Number.isInteger(n)) return "a whole number";
    if (p.minimum !== undefined && n < p.minimum) return `at least ${p.minimum}`;
    if (p.exclusiveMinimum !== undefined && n <= p.exclusiveMinimum) return `more than ${p.exclusiveMinimum}`;
    if (p.maximum !== undefined && n > p.maximum) return `at most ${p.maximum}`;
    if (p.exclusiveMaximum !== undefined && n >= p.exclusiveMaximum) return `less than ${p.exclusiveMaximum}`;
    return [n];
  }
  return [s];
}

/** Values the user set in settings: ttvis.methodParams[method], ttvis.device, ttvis.resolution. */
function fromSettings(method: string, runProps: Record<string, Prop>): Record<string, unknown> {
  const cfg = vscode.workspace.getConfiguration("ttvis");
  const out: Record<string, unknown> = { ...(cfg.get<Record<string, Record<string, unknown>>>("methodParams", {})[method] ?? {}) };
  for (const key of Object.keys(runProps)) {
    const i = cfg.inspect(key); // only a value the user set: otherwise the run's own (config.json) or the default applies
    const v = i?.workspaceFolderValue ?? i?.workspaceValue ?? i?.globalValue;
    if (v !== undefined && v !== null) out[key] = v;
  }
  return out;
}

/**
 * Ask for the training parameters: a quick pick listing every run and method parameter with its
 * value (settings, else default) and help; picking one edits it (validated by its schema).
 * Resolves to {params, run, epochs} or undefined when dismissed.
 */
export async function askParameters(info: any, runSchema: any, runName: string):
    Promise<{ params: Record<string, unknown>; run: Record<string, unknown>; epochs?: string } | undefined> {
  const mProps: Record<string, Prop> = info.schema?.properties ?? {};
  const rProps: Record<string, Prop> = runSchema?.properties ?? {};
  const set = fromSettings(info.name, rProps);
  let epochs = "all";
  const START = "$(play) Train with these values";
  for (;;) {
    const rows: (vscode.QuickPickItem & { key?: string; scope?: "run" | "method" })[] = [
      { label: START, description: `${info.name} on ${runName}`, detail: info.description },
      { label: "epochs", description: epochs, detail: "which epochs: all, 5, 1,3,5, 2-10 or 1-20:2", key: "epochs" },
      { label: "run settings", kind: vscode.QuickPickItemKind.Separator },
      ...Object.entries(rProps).map(([k, p]) => ({ label: k, key: k, scope: "run" as const,
        description: `${show(set[k] ?? p.default)}${k in set ? "" : " (default)"}`, detail: p.description })),
      { label: `${info.name} parameters`, kind: vscode.QuickPickItemKind.Separator },
      ...Object.entries(mProps).map(([k, p]) => ({ label: k, key: k, scope: "method" as const,
        description: `${show(set[k] ?? p.default)}${k in set ? "" : " (default)"}`, detail: p.description })),
    ];
    const pick = await vscode.window.showQuickPick(rows, { title: `Train ${info.name}`, placeHolder: "Enter to train, or pick a parameter to change it", matchOnDetail: true });
    if (!pick) return undefined;
    if (pick.label === START) break;
    const key = pick.key!;
    if (key === "epochs") {
      const v = await vscode.window.showInputBox({ title: "epochs", value: epochs, prompt: pick.detail });
      if (v !== undefined) epochs = v.trim() || "all";
      continue;
    }
    const p = (pick.scope === "run" ? rProps : mProps)[key];
    const current = show(set[key] ?? p.default);
    let text: string | undefined;
    if (p.enum || typeOf(p) === "boolean") {
      const opts = (p.enum ?? [true, false]).map(String);
      text = await vscode.window.showQuickPick(opts, { title: key, placeHolder: p.description });
    } else {
      text = await vscode.window.showInputBox({ title: key, value: current === "–" ? "" : current, prompt: p.description,
        validateInput: (s) => { const r = parseValue(p, s); return typeof r === "string" ? `expected ${r}` : undefined; } });
    }
    if (text === undefined) continue;
    const r = parseValue(p, text);
    if (typeof r !== "string") set[key] = r[0];
  }
  const params: Record<string, unknown> = {}, run: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(set)) {
    if (k in rProps) run[k] = v;
    else if (k in mProps) params[k] = v;
  }
  return { params, run, epochs: epochs === "all" ? undefined : epochs };
}

/**
 * Start a training job and follow it in a cancellable notification (epoch n/N and the current
 * stage, from the server's $/progress on our own work-done token) until it ends.
 * Resolves to the job id, or undefined when the server refused (an error is shown).
 */
export async function trainWithProgress(server: ServerManager, request: Record<string, unknown>, title: string,
                                        onStarted: (job: string) => void): Promise<string | undefined> {
  const client = server.client ?? (await server.start());
  if (!client) return undefined;
  const token = `ttvis-train-${randomBytes(6).toString("hex")}`;
  let job: string | undefined;
  await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, async (progress, cancel) => {
    let last = 0;
    let finish: () => void = () => undefined;
    const ended = new Promise<void>((resolve) => { finish = resolve; });
    const sub = client.onProgress(WorkDoneProgress.type, token, (v) => {
      if (v.kind === "end") return finish();
      const p = v.percentage ?? last;
      progress.report({ message: v.message, increment: Math.max(0, p - last) });
      last = Math.max(last, p);
    });
    const stopped = client.onDidChangeState(() => finish()); // the server went away: nothing more will come
    cancel.onCancellationRequested(() => { if (job) void server.request("ttvis/cancel", { job }).catch(() => undefined); });
    try {
      const res = await server.request("ttvis/train", { ...request, workDoneToken: token });
      job = res.job;
      onStarted(res.job);
      progress.report({ message: `epochs ${res.epochs.length > 6 ? `${res.epochs[0]}..${res.epochs[res.epochs.length - 1]}` : res.epochs.join(",")}` });
      await ended;
    } catch (e: any) {
      void vscode.window.showErrorMessage(`ttvis: ${e?.message ?? e}`);
    } finally {
      sub.dispose();
      stopped.dispose();
    }
  });
  return job;
}
