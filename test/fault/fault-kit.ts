/**
 * Pieces for the injected-fault run: a seeded PRNG (so a failing run can be replayed with its
 * seed) and a webhook receiver that misbehaves on purpose yet honours `Idempotency-Key`, recording
 * enough to tell "executed once" from "delivered again after we already answered 2xx".
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** mulberry32: tiny, fast, and good enough to spread faults; the point is replayability, not quality. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FAULT_SEED replays a run; otherwise a fresh seed each run so CI explores new interleavings. */
export function pickSeed(): number {
  const fromEnv = process.env.FAULT_SEED;
  if (fromEnv && /^\d+$/.test(fromEnv)) return Number(fromEnv) >>> 0;
  return (Math.random() * 2 ** 32) >>> 0;
}

export interface KeyRecord {
  /** Every request that carried this key. */
  deliveries: number;
  /** Times the side effect ran (a receiver honouring the key runs it at most once). */
  executions: number;
  /** 2xx answers whose bytes were fully handed to the socket (the bot could have read them). */
  answered2xx: number;
  /** Deliveries that arrived after a 2xx had already been fully answered for this key. */
  afterSuccess: number;
  badSignature: number;
}

export interface FaultyReceiver {
  url: string;
  keys: Map<string, KeyRecord>;
  /** Requests without an Idempotency-Key (there must be none). */
  unkeyed: number;
  /** While true, a share of requests fail: 500 before the effect, or the effect then a dropped socket. */
  setFaulty(on: boolean): void;
  close(): Promise<void>;
}

/**
 * A team's action endpoint under stress. With faults on: ~20% answer 500 without acting, ~15% act
 * and then drop the connection (the caller cannot know it worked). A repeated key is answered 200
 * without acting again, as the webhook contract in docs asks receivers to do.
 */
export async function startFaultyReceiver(secret: string, random: () => number): Promise<FaultyReceiver> {
  const keys = new Map<string, KeyRecord>();
  let unkeyed = 0;
  let faulty = true;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const key = String(req.headers['idempotency-key'] ?? '');
      if (!key) {
        unkeyed++;
        res.writeHead(400).end('missing Idempotency-Key');
        return;
      }
      const rec = keys.get(key) ?? { deliveries: 0, executions: 0, answered2xx: 0, afterSuccess: 0, badSignature: 0 };
      keys.set(key, rec);
      rec.deliveries++;
      if (rec.answered2xx > 0) rec.afterSuccess++;
      const ts = String(req.headers['x-firebreak-timestamp'] ?? '');
      const want = `sha256=${createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex')}`;
      const got = String(req.headers['x-firebreak-signature'] ?? '');
      if (got.length !== want.length || !timingSafeEqual(Buffer.from(got), Buffer.from(want))) {
        rec.badSignature++;
        res.writeHead(401).end('bad signature');
        return;
      }
      const roll = faulty ? random() : 1;
      if (roll < 0.2) {
        res.writeHead(500).end('temporarily broken');
        return;
      }
      if (rec.executions === 0) rec.executions++;
      if (roll < 0.35) {
        // Acted, but the answer is lost: the sender must not treat this as "not done".
        res.socket?.destroy();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}', () => {
        rec.answered2xx++;
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/execute`,
    keys,
    get unkeyed() {
      return unkeyed;
    },
    setFaulty(on) {
      faulty = on;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
