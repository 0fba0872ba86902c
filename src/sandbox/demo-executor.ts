import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { ActionDefinition } from '../domain/actions.js';
import { readBody } from '../http/routes.js';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, signWebhook } from '../adapters/executors/webhook.js';

/**
 * The sandbox's own executor: a webhook receiver on 127.0.0.1 inside the sandbox process. The
 * sandbox wires the default risky actions (those with no executor) to it, so an approval in a drill
 * makes a real signed webhook call and shows a real answer. It does what a team's receiver should:
 * checks the HMAC over the raw body with its per-run secret, refuses a stale timestamp, and answers
 * a repeated `Idempotency-Key` with the first answer instead of acting twice. It acts on nothing:
 * it records the call, which the console shows.
 */
export const DEMO_EXECUTOR_SECRET_ENV = 'FIREBREAK_SANDBOX_EXECUTOR_SECRET';
const MAX_SKEW_S = 300;

export interface DemoCall {
  at: string;
  approvalId: string | null;
  action: string | null;
  params: Record<string, unknown>;
  approvedBy: string[];
  /** What the receiver decided: the status it answered and why. */
  status: number;
  answer: string;
  repeat: boolean;
}

const Body = z.object({
  approval_id: z.string(),
  action: z.string(),
  params: z.record(z.string(), z.unknown()),
  approved_by: z.array(z.string()),
});

export interface DemoExecutor {
  url: string;
  secret: string;
  calls(): DemoCall[];
  /** The actions with the default risky ones (approval needed, no executor) wired to this receiver. */
  wire(actions: ActionDefinition[]): ActionDefinition[];
  close(): Promise<void>;
}

export async function startDemoExecutor(opts: { onCall?: () => void; now?: () => Date } = {}): Promise<DemoExecutor> {
  const secret = randomBytes(24).toString('hex');
  const now = opts.now ?? (() => new Date());
  const calls: DemoCall[] = [];
  const answers = new Map<string, { status: number; body: string }>();

  const server: Server = createServer(async (req, res) => {
    const answer = (status: number, message: string, parsed?: z.infer<typeof Body>, repeat = false) => {
      calls.push({
        at: now().toISOString(),
        approvalId: parsed?.approval_id ?? null,
        action: parsed?.action ?? null,
        params: parsed?.params ?? {},
        approvedBy: parsed?.approved_by ?? [],
        status,
        answer: message,
        repeat,
      });
      if (calls.length > 200) calls.shift();
      const body = JSON.stringify({ ok: status < 300, message });
      res.writeHead(status, { 'content-type': 'application/json' }).end(body);
      opts.onCall?.();
      return body;
    };
    if (req.method !== 'POST' || req.url !== '/execute') return void res.writeHead(404).end();
    const raw = (await readBody(req, 64 * 1024).catch(() => null))?.toString('utf8');
    if (raw === undefined) return void answer(413, 'body too large');
    const ts = String(req.headers[TIMESTAMP_HEADER.toLowerCase()] ?? '');
    const sig = String(req.headers[SIGNATURE_HEADER.toLowerCase()] ?? '');
    const expected = Buffer.from(signWebhook(secret, ts, raw));
    if (!/^\d+$/.test(ts) || Math.abs(now().getTime() / 1000 - Number(ts)) > MAX_SKEW_S) return void answer(401, 'stale or missing timestamp');
    if (sig.length !== expected.length || !timingSafeEqual(Buffer.from(sig), expected)) return void answer(401, 'bad signature');
    let parsed: z.infer<typeof Body>;
    try {
      parsed = Body.parse(JSON.parse(raw));
    } catch {
      return void answer(400, 'not a Firebreak action call');
    }
    const key = String(req.headers['idempotency-key'] ?? parsed.approval_id);
    const first = answers.get(key);
    if (first) return void answer(first.status, `${JSON.parse(first.body).message} (repeat of the same call, not run again)`, parsed, true);
    const params = Object.entries(parsed.params)
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(' ');
    const body = answer(
      200,
      `demo executor: signature verified; would run ${parsed.action}${params ? ` ${params}` : ''} here (nothing real was changed)`,
      parsed,
    );
    answers.set(key, { status: 200, body });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/execute`;

  return {
    url,
    secret,
    calls: () => [...calls],
    wire: (actions) =>
      actions.map((a) =>
        a.requires_approval && a.executor.type === 'none'
          ? { ...a, executor: { type: 'webhook', url, secret_env: DEMO_EXECUTOR_SECRET_ENV, timeout_ms: 5_000, retries: 1 } }
          : a,
      ),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
