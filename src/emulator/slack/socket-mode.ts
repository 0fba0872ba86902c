import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, WebSocket, type RawData } from 'ws';
import { z } from 'zod';
import { SlackApiError } from './args.js';

/**
 * Slack's Socket Mode, emulated on the emulator's own HTTP server.
 *
 * The handshake is Slack's: `apps.connections.open` with the app-level token (`xapp-…`) answers
 * `{ok:true, url}` with a single-use ticket URL (`ws://host/link/?ticket=…&app_id=…`); the client
 * upgrades on it and first receives `hello` (`num_connections`, `debug_info`, `connection_info`).
 * Slack then pushes envelopes `{envelope_id, type, payload, accepts_response_payload,
 * retry_attempt?, retry_reason?}` and waits for `{envelope_id, payload?}` back. The server pings
 * every `pingIntervalMs` and (via `ws`) answers the client's pings with pongs, so the client's
 * heartbeat checks pass.
 *
 * Several connections may be open at once (replicas of one app); Slack hands each envelope to ONE
 * of them, which this emulates with round robin over the open connections.
 *
 * Limits: one app-level token, no rate limit on `apps.connections.open` (Slack documents Tier 1 but
 * tolerates start-up bursts; limiting it here would make a replica set take minutes to start), no
 * `debug_reconnects`, tickets never reused even after a failed upgrade.
 */

/** How long a ticket URL from apps.connections.open can be used (Slack's are short-lived). */
export const SOCKET_TICKET_TTL_MS = 60_000;
/** Slack gives up on an envelope that is not acked within 3 s. */
export const SOCKET_ACK_TIMEOUT_MS = 3000;

export type EnvelopeType = 'slash_commands' | 'interactive' | 'events_api';

export interface SocketModeOptions {
  /** The app-level token (`xapp-…`) apps.connections.open accepts; none → every token is refused. */
  appToken?: string;
  appId: string;
  /** Server → client ping period (ms); 0 disables. Slack pings every few seconds. */
  pingIntervalMs?: number;
}

export interface SocketConnectionInfo {
  id: string;
  openedAt: number;
  /** Envelopes handed to this connection so far. */
  delivered: number;
}

export interface EnvelopeRecord {
  envelopeId: string;
  type: EnvelopeType;
  connectionId: string;
  /** Wall-clock ms when sent. */
  at: number;
  retryAttempt?: number;
  /** ms until the ack arrived, or null while/if none arrived in time. */
  ackedAfterMs: number | null;
  /** The ack's payload (`{}` for a bare ack). */
  ackPayload?: Record<string, unknown>;
}

export interface DeliverOptions {
  retryAttempt?: number;
  retryReason?: string;
  /** Default SOCKET_ACK_TIMEOUT_MS. */
  ackTimeoutMs?: number;
  /** Default: true for slash commands and view submissions (their ack payload means something). */
  acceptsResponsePayload?: boolean;
}

export type DeliveryResult =
  | { acked: true; payload: Record<string, unknown>; ms: number; envelopeId: string; connectionId: string }
  | { acked: false; ms: number; envelopeId: string; connectionId: string };

/** No open connection: Slack shows the user `dispatch_failed`. */
export class SocketDispatchError extends Error {
  readonly error = 'dispatch_failed';
  constructor() {
    super('Socket Mode: no open connection to deliver to (dispatch_failed)');
    this.name = 'SocketDispatchError';
  }
}

/** What the client sends back: an ack. Anything else is ignored, as Slack does. */
const AckMessage = z.object({
  envelope_id: z.string().min(1),
  payload: z.record(z.string(), z.unknown()).optional(),
});

interface Conn {
  id: string;
  ws: WebSocket;
  openedAt: number;
  delivered: number;
  ping: NodeJS.Timeout | null;
}

interface Pending {
  record: EnvelopeRecord;
  started: number;
  resolve: (r: DeliveryResult) => void;
  timer: NodeJS.Timeout;
}

export class SocketModeServer {
  private readonly appToken: string | undefined;
  private readonly appId: string;
  private readonly pingIntervalMs: number;
  private readonly tickets = new Map<string, number>();
  private readonly conns: Conn[] = [];
  private readonly pending = new Map<string, Pending>();
  private readonly log: EnvelopeRecord[] = [];
  private readonly wss = new WebSocketServer({ noServer: true });
  private baseWsUrl = '';
  private next = 0;
  private connSeq = 0;
  private closed = false;

  constructor(opts: SocketModeOptions) {
    this.appToken = opts.appToken;
    this.appId = opts.appId;
    this.pingIntervalMs = opts.pingIntervalMs ?? 5000;
  }

  /** True when `token` is the app-level token (which only apps.connections.open accepts). */
  isAppToken(token: string): boolean {
    return this.appToken !== undefined && token === this.appToken;
  }

  /** Serve upgrades on `server` (the emulator's HTTP server at `baseUrl`). */
  attach(server: Server, baseUrl: string): void {
    this.baseWsUrl = baseUrl.replace(/^http/, 'ws');
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head));
  }

  /** apps.connections.open, after the token was checked: a fresh single-use ticket URL. */
  open(): { url: string } {
    if (this.closed) throw new SlackApiError('service_unavailable');
    const now = Date.now();
    for (const [t, exp] of this.tickets) if (exp < now) this.tickets.delete(t);
    const ticket = randomBytes(16).toString('hex');
    this.tickets.set(ticket, now + SOCKET_TICKET_TTL_MS);
    return { url: `${this.baseWsUrl}/link/?ticket=${ticket}&app_id=${this.appId}` };
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://emulator.local');
    const ticket = url.searchParams.get('ticket') ?? '';
    const expires = this.tickets.get(ticket);
    // Single use: a ticket is spent by the first upgrade attempt, whatever happens next.
    this.tickets.delete(ticket);
    if (this.closed || url.pathname.replace(/\/$/, '') !== '/link' || expires === undefined || expires < Date.now()) {
      socket.end('HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws));
  }

  private accept(ws: WebSocket): void {
    const conn: Conn = { id: `conn-${++this.connSeq}`, ws, openedAt: Date.now(), delivered: 0, ping: null };
    this.conns.push(conn);
    if (this.pingIntervalMs > 0) {
      conn.ping = setInterval(() => {
        if (ws.readyState === WebSocket.OPEN) ws.ping(Buffer.from(`ping-${Date.now()}`));
      }, this.pingIntervalMs);
      conn.ping.unref();
    }
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (!isBinary) this.onMessage(data.toString());
    });
    const drop = () => {
      if (conn.ping) clearInterval(conn.ping);
      const i = this.conns.indexOf(conn);
      if (i >= 0) this.conns.splice(i, 1);
    };
    ws.on('close', drop);
    ws.on('error', drop);
    ws.send(
      JSON.stringify({
        type: 'hello',
        num_connections: this.live().length,
        debug_info: { host: `applink-emulator-${conn.id}`, build_number: 1, approximate_connection_time: 18060 },
        connection_info: { app_id: this.appId },
      }),
    );
  }

  private onMessage(text: string): void {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return;
    }
    const ack = AckMessage.safeParse(json);
    if (!ack.success) return;
    const p = this.pending.get(ack.data.envelope_id);
    // A late or unknown ack is dropped: Slack has already given up on that envelope.
    if (!p) return;
    this.pending.delete(ack.data.envelope_id);
    clearTimeout(p.timer);
    const ms = performance.now() - p.started;
    const payload = ack.data.payload ?? {};
    p.record.ackedAfterMs = ms;
    p.record.ackPayload = payload;
    p.resolve({ acked: true, payload, ms, envelopeId: p.record.envelopeId, connectionId: p.record.connectionId });
  }

  private live(): Conn[] {
    return this.conns.filter((c) => c.ws.readyState === WebSocket.OPEN);
  }

  /** Open connections, oldest first. */
  connections(): SocketConnectionInfo[] {
    return this.live().map((c) => ({ id: c.id, openedAt: c.openedAt, delivered: c.delivered }));
  }

  /** Every envelope sent, oldest first. */
  envelopes(): EnvelopeRecord[] {
    return this.log.map((r) => ({ ...r }));
  }

  /** Resolve once at least `n` connections are open (bot replicas connect asynchronously). */
  async waitForConnections(n = 1, ms = 5000): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.live().length < n) {
      if (Date.now() > deadline) throw new Error(`Socket Mode: ${this.live().length} of ${n} connections after ${ms} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /**
   * Push one envelope to one connection (round robin) and wait for its ack, at most
   * `ackTimeoutMs`. Throws SocketDispatchError when nothing is connected.
   */
  deliver(type: EnvelopeType, payload: Record<string, unknown>, o: DeliverOptions = {}): Promise<DeliveryResult> {
    const open = this.live();
    if (open.length === 0) return Promise.reject(new SocketDispatchError());
    const conn = open[this.next++ % open.length]!;
    conn.delivered += 1;
    const envelopeId = randomUUID();
    const accepts = o.acceptsResponsePayload ?? (type === 'slash_commands' || (type === 'interactive' && payload.type === 'view_submission'));
    const envelope: Record<string, unknown> = { envelope_id: envelopeId, type, payload, accepts_response_payload: accepts };
    if (o.retryAttempt !== undefined) {
      envelope.retry_attempt = o.retryAttempt;
      envelope.retry_reason = o.retryReason ?? 'timeout';
    }
    const record: EnvelopeRecord = {
      envelopeId,
      type,
      connectionId: conn.id,
      at: Date.now(),
      ackedAfterMs: null,
      ...(o.retryAttempt !== undefined ? { retryAttempt: o.retryAttempt } : {}),
    };
    this.log.push(record);
    const started = performance.now();
    return new Promise<DeliveryResult>((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(envelopeId);
        resolve({ acked: false, ms: performance.now() - started, envelopeId, connectionId: conn.id });
      }, o.ackTimeoutMs ?? SOCKET_ACK_TIMEOUT_MS);
      this.pending.set(envelopeId, { record, started, resolve, timer });
      conn.ws.send(JSON.stringify(envelope));
    });
  }

  /**
   * Send Slack's `disconnect` message (default reason `refresh_requested`, as before Slack recycles
   * a host) to one connection or all; the client closes and reconnects with a new ticket.
   */
  requestDisconnect(connectionId?: string, reason: 'refresh_requested' | 'link_disabled' | 'warning' = 'refresh_requested'): void {
    for (const c of this.live()) {
      if (connectionId !== undefined && c.id !== connectionId) continue;
      c.ws.send(JSON.stringify({ type: 'disconnect', reason, debug_info: { host: `applink-emulator-${c.id}` } }));
    }
  }

  /** Close every connection (going away) and stop accepting new ones; pending envelopes time out now. */
  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.resolve({ acked: false, ms: performance.now() - p.started, envelopeId: p.record.envelopeId, connectionId: p.record.connectionId });
    }
    this.pending.clear();
    const all = [...this.conns];
    await Promise.all(
      all.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.ping) clearInterval(c.ping);
            if (c.ws.readyState === WebSocket.CLOSED) return resolve();
            // A peer that never answers the close frame must not hold the emulator open.
            const t = setTimeout(() => c.ws.terminate(), 500);
            c.ws.once('close', () => {
              clearTimeout(t);
              resolve();
            });
            c.ws.close(1001, 'emulator closing');
          }),
      ),
    );
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}
