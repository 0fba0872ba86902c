import type { IncomingMessage, ServerResponse } from 'node:http';

/** A plain route on the bot's HTTP server (health, metrics, webhooks, sandbox). */
export interface Route {
  method: 'GET' | 'POST';
  /** Exact path, or a prefix when it ends with `*`. */
  path: string;
  handler: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;
}

export class BodyTooLargeError extends Error {}

/**
 * Read a request body up to `limit` bytes (413 territory beyond it). Listeners, not `for await`:
 * the async iterator cost a few kilobytes of garbage and a promise per chunk on every webhook,
 * which an alert storm pays thousands of times a second. Same outcomes: a body over the limit
 * destroys the request and rejects with BodyTooLargeError; a stream error or a request closed
 * before its end rejects.
 */
export async function readBody(req: IncomingMessage, limit = 1_000_000): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw new BodyTooLargeError(`body of ${declared} bytes exceeds ${limit}`);
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        done();
        req.destroy();
        reject(new BodyTooLargeError(`body exceeds ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      done();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      done();
      reject(err);
    };
    const onClose = () => {
      done();
      reject(Object.assign(new Error('the request closed before its body ended'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function matchRoute(routes: Route[], method: string, path: string): Route | undefined {
  return routes.find((r) => r.method === method && (r.path.endsWith('*') ? path.startsWith(r.path.slice(0, -1)) : r.path === path));
}
