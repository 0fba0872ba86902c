// The alert senders of the ingest bench, in a worker thread: real senders (Alertmanager, Datadog,
// PagerDuty) are other machines, so their signing, JSON and HTTP client must not share the bot's
// event loop. The bot stays in the bench's main thread; this thread only signs and posts, `limit`
// requests in flight, and reports each answer's status and the wall time of the whole burst.
// The client is node:http over `limit` kept-alive connections (Nagle off), as a load generator's
// would be: undici's `fetch` (WHATWG streams, a Request and an AbortSignal per call) cost this
// thread about three times the CPU per request, on the same two cores as the bot under test.
// The bot sees the same traffic either way: `limit` connections, one signed POST at a time each.
// Plain JS over the compiled signer (dist/), because worker threads do not load TypeScript.
// `url` is one bot, or a list of replicas the requests are spread over in turn (a load balancer's
// round robin).
import { Agent, request } from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';
import { signGeneric } from '../dist/src/webhooks/verify.js';

const { url, secret, alerts, limit } = workerData;
const urls = (Array.isArray(url) ? url : [url]).map((u) => new URL(`${u}/webhooks/alerts/generic`));
const agent = new Agent({ keepAlive: true, maxSockets: limit, noDelay: true });
const statuses = new Array(alerts.length);

/** One signed POST; resolves with the status once the whole answer is read. */
function post(target, body) {
  const ts = Math.floor(Date.now() / 1000);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        method: 'POST',
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          'x-firebreak-timestamp': String(ts),
          'x-firebreak-signature': signGeneric(secret, ts, body),
        },
      },
      (res) => {
        res.on('error', reject);
        res.on('end', () => resolve(res.statusCode));
        res.resume();
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

let next = 0;
const started = performance.now();
async function sender() {
  for (;;) {
    const i = next++;
    if (i >= alerts.length) return;
    statuses[i] = await post(urls[i % urls.length], JSON.stringify(alerts[i]));
  }
}
await Promise.all(Array.from({ length: Math.min(limit, alerts.length) }, sender));
const ms = performance.now() - started;
agent.destroy();
parentPort.postMessage({ statuses, ms });
