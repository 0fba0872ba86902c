// The alert senders of the ingest bench, in a worker thread: real senders (Alertmanager, Datadog,
// PagerDuty) are other machines, so their signing, JSON and HTTP client must not share the bot's
// event loop. The bot stays in the bench's main thread; this thread only signs and posts, `limit`
// requests in flight, and reports each answer's status and the wall time of the whole burst.
// Plain JS over the compiled signer (dist/), because worker threads do not load TypeScript.
// `url` is one bot, or a list of replicas the requests are spread over in turn (a load balancer's
// round robin).
import { parentPort, workerData } from 'node:worker_threads';
import { signGeneric } from '../dist/src/webhooks/verify.js';

const { url, secret, alerts, limit } = workerData;
const urls = Array.isArray(url) ? url : [url];
const statuses = new Array(alerts.length);
let next = 0;
const started = performance.now();
async function sender() {
  for (;;) {
    const i = next++;
    if (i >= alerts.length) return;
    const body = JSON.stringify(alerts[i]);
    const ts = Math.floor(Date.now() / 1000);
    const res = await fetch(`${urls[i % urls.length]}/webhooks/alerts/generic`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-firebreak-timestamp': String(ts), 'x-firebreak-signature': signGeneric(secret, ts, body) },
      body,
    });
    await res.arrayBuffer();
    statuses[i] = res.status;
  }
}
await Promise.all(Array.from({ length: Math.min(limit, alerts.length) }, sender));
parentPort.postMessage({ statuses, ms: performance.now() - started });
