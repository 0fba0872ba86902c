// The comparison point for the ack-latency benchmark: a bare node:http server that only checks the
// Slack signature and answers 200, run as its own process exactly like the bot.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';

const secret = process.env.SLACK_SIGNING_SECRET ?? '';
const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    const ts = String(req.headers['x-slack-request-timestamp'] ?? '');
    const sig = String(req.headers['x-slack-signature'] ?? '');
    const expected = `v0=${createHmac('sha256', secret).update(`v0:${ts}:${body}`).digest('hex')}`;
    const fresh = Math.abs(Date.now() / 1000 - Number(ts)) < 300;
    const ok = fresh && sig.length === expected.length && timingSafeEqual(Buffer.from(sig), Buffer.from(expected));
    res.writeHead(ok ? 200 : 401);
    res.end();
  });
});
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
