// One small transport interface; two implementations (DESIGN.md "Seams").
// Everything else in the page talks to a Transport and never knows which one it has.

export type NotificationHandler = (params: any) => void;

export interface Transport {
  request(method: string, params: unknown): Promise<any>;
  onNotification(method: string, handler: NotificationHandler): void;
}

/** A JSON-RPC error as the page sees it. */
export class RpcError extends Error {
  constructor(public code: number, message: string) {
    super(message);
  }
}

abstract class JsonRpcTransport implements Transport {
  private nextId = 1;
  private pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  private handlers = new Map<string, NotificationHandler[]>();

  protected abstract send(message: unknown): void;

  request(method: string, params: unknown): Promise<any> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.send({ jsonrpc: "2.0", id, method, params });
    });
  }

  onNotification(method: string, handler: NotificationHandler): void {
    const list = this.handlers.get(method) ?? [];
    list.push(handler);
    this.handlers.set(method, list);
  }

  /** Feed one incoming JSON-RPC message (response, notification or server request). */
  protected receive(msg: any): void {
    if (msg && "id" in msg && ("result" in msg || "error" in msg) && !("method" in msg)) {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.error) p.reject(new RpcError(msg.error.code, msg.error.message));
      else p.resolve(msg.result);
      return;
    }
    if (msg && msg.method) {
      if ("id" in msg) {
        // server -> client request (window/workDoneProgress/create): accept
        this.send({ jsonrpc: "2.0", id: msg.id, result: null });
      }
      for (const h of this.handlers.get(msg.method) ?? []) h(msg.params);
    }
  }
}

/** Browser: `ttvis serve`'s websocket (one JSON-RPC message per frame). */
export class WebSocketTransport extends JsonRpcTransport {
  private ws: WebSocket;
  private ready: Promise<void>;

  constructor(url: string) {
    super();
    this.ws = new WebSocket(url);
    this.ready = new Promise((resolve, reject) => {
      this.ws.onopen = () => resolve();
      this.ws.onerror = () => reject(new Error(`cannot connect to ${url}`));
    });
    this.ws.binaryType = "arraybuffer"; // pygls sends frames as bytes
    const text = new TextDecoder();
    this.ws.onmessage = (ev) => this.receive(JSON.parse(typeof ev.data === "string" ? ev.data : text.decode(ev.data)));
  }

  protected send(message: unknown): void {
    this.ready.then(() => this.ws.send(JSON.stringify(message)));
  }
}

/** VS Code webview: requests relayed by the extension host to the language client. */
export class VsCodeTransport extends JsonRpcTransport {
  constructor(private vscode: { postMessage(m: unknown): void }) {
    super();
    window.addEventListener("message", (ev) => {
      const m = ev.data;
      if (m && m.type === "rpc") this.receive(m.message);
    });
  }

  protected send(message: unknown): void {
    this.vscode.postMessage({ type: "rpc", message });
  }
}
