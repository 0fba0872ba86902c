import type { IncomingMessage, ServerResponse } from 'node:http';

/** A plain route on the bot's HTTP server (health, metrics, webhooks, sandbox). */
export interface Route {
  method: 'GET' | 'POST';
  /** Exact path, or a prefix when it ends with `*`. */
  path: string;
  handler: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;
}

export class BodyTooLargeError extends Error {}

/** Read a request body up to `limit` bytes (413 territory beyond it). */
export async function readBody(req: IncomingMessage, limit = 1_000_000): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw new BodyTooLargeError(`body of ${declared} bytes exceeds ${limit}`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new BodyTooLargeError(`body exceeds ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function matchRoute(routes: Route[], method: string, path: string): Route | undefined {
  return routes.find((r) => r.method === method && (r.path.endsWith('*') ? path.startsWith(r.path.slice(0, -1)) : r.path === path));
}
