import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The sandbox's stand-in for the systems a runbook reads: an API whose error rate jumped after
 * a deploy. Loopback only; it serves fixed, plausible data so the example runbooks have something
 * real to call (over HTTP, through the same step runner production uses).
 */
export interface DemoService {
  url: string;
  close(): Promise<void>;
}

export async function startDemoService(): Promise<DemoService> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const json = (body: unknown) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body, null, 2));
    };
    if (path === '/errors') return json({ service: 'api', window: '15m', error_rate: 0.124, baseline: 0.004, spike_started: '6 minutes ago' });
    if (path === '/deploys') return json({ service: 'api', version: 'v42', previous_version: 'v41', deployed: '8 minutes ago', by: 'ci' });
    if (path === '/logs') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      return res.end(
        [
          'ERROR api v42 checkout: TypeError: cannot read properties of undefined (reading "currency")',
          'ERROR api v42 checkout: TypeError: cannot read properties of undefined (reading "currency")',
          'WARN  api v42 retrying payment authorisation (attempt 2)',
        ].join('\n'),
      );
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
