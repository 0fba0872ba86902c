import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { readBody } from '../http/routes.js';

/**
 * The sandbox's own pager: a PagerDuty Events API v2 receiver (`POST /v2/enqueue`) on 127.0.0.1,
 * so paging in a drill goes through the real PagerDuty client and shows a real answer. It answers
 * as PagerDuty does (202 `{status, message, dedup_key}`; 400 `{status: "invalid event", message,
 * errors}`) and records each event; a repeated trigger with one dedup_key updates one page. It
 * notifies nobody.
 */
export const DEMO_PAGER_KEY_ENV = 'FIREBREAK_SANDBOX_PAGER_KEY';

const Event = z.object({
  routing_key: z.string().length(32),
  event_action: z.enum(['trigger', 'acknowledge', 'resolve']),
  dedup_key: z.string().max(255).optional(),
  payload: z
    .object({ summary: z.string().min(1).max(1024), source: z.string().min(1), severity: z.enum(['critical', 'error', 'warning', 'info']) })
    .loose()
    .optional(),
});

export interface DemoPage {
  at: string;
  dedupKey: string;
  summary: string;
  triggers: number;
}

export interface DemoPager {
  url: string;
  routingKey: string;
  pages(): DemoPage[];
  close(): Promise<void>;
}

export async function startDemoPager(opts: { onPage?: () => void; now?: () => Date } = {}): Promise<DemoPager> {
  const routingKey = randomBytes(16).toString('hex');
  const now = opts.now ?? (() => new Date());
  const pages: DemoPage[] = [];
  const server: Server = createServer(async (req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'POST' || req.url !== '/v2/enqueue') return send(404, { status: 'not found', message: 'Not found' });
    let parsed: z.infer<typeof Event>;
    try {
      const r = Event.safeParse(JSON.parse((await readBody(req, 64 * 1024)).toString('utf8')));
      if (!r.success)
        return send(400, {
          status: 'invalid event',
          message: 'Event object is invalid',
          errors: r.error.issues.map((i) => `'${i.path.join('.')}' ${i.message}`),
        });
      parsed = r.data;
    } catch {
      return send(400, { status: 'invalid event', message: 'Event object is invalid', errors: ['body is not JSON'] });
    }
    if (parsed.routing_key !== routingKey)
      return send(400, { status: 'invalid event', message: 'Event object is invalid', errors: ["'routing_key' is invalid"] });
    const dedupKey = parsed.dedup_key ?? randomBytes(16).toString('hex');
    if (parsed.event_action === 'trigger' && parsed.payload) {
      const open = pages.find((p) => p.dedupKey === dedupKey);
      if (open) open.triggers += 1;
      else pages.push({ at: now().toISOString(), dedupKey, summary: parsed.payload.summary, triggers: 1 });
      opts.onPage?.();
    }
    send(202, { status: 'success', message: 'Event processed', dedup_key: dedupKey });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    routingKey,
    pages: () => pages,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
