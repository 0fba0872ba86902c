import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startSandboxBot, type RunningSandbox } from './helpers.js';

/**
 * The sandbox as a person uses it: Debian's chromium (no browser download) drives the console
 * page against the real bot and the in-process Slack emulator. A screenshot of each step lands
 * in test-output/sandbox/ so a reviewer can see what the user saw.
 */
const CHROMIUM = '/usr/bin/chromium';
const OUT = fileURLToPath(new URL('../../test-output/sandbox/', import.meta.url));
/**
 * The README's screenshot of an incident channel is taken here, so it shows the current console.
 * It is written to docs/ only with UPDATE_README_SHOT=1 (a test run leaves the work tree clean);
 * otherwise it lands beside the other screenshots.
 */
const README_SHOT = process.env.UPDATE_README_SHOT
  ? fileURLToPath(new URL('../../docs/images/incident-channel.png', import.meta.url))
  : join(OUT, 'incident-channel.png');
const present = existsSync(CHROMIUM);
if (!present && process.env.CI) throw new Error(`${CHROMIUM} is missing: CI must install it (apt-get install -y chromium)`);
const skip = present ? false : `${CHROMIUM} not found: install it with "apt-get install -y chromium" to run the browser test`;

let sb: RunningSandbox;
let browser: Browser;
let page: Page;
let step = 0;

async function waitUntil(check: () => Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function shot(name: string): Promise<void> {
  step += 1;
  await page.screenshot({ path: join(OUT, `${String(step).padStart(2, '0')}-${name}.png`), fullPage: true });
}

before(async () => {
  if (!present) return;
  mkdirSync(OUT, { recursive: true });
  sb = await startSandboxBot();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(15_000);
});

after(async () => {
  await browser?.close();
  await sb?.close();
});

test('declare through the modal, propose a rollback as bob, approve as alice the commander', { skip, timeout: 120_000 }, async () => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));

  // The bare address (with the printed token) redirects to the console and keeps the token.
  const landing = await page.goto(`${sb.url}/?token=${sb.sandbox.token}`);
  assert.equal(new URL(page.url()).pathname, '/sandbox');
  assert.equal(new URL(page.url()).searchParams.get('token'), sb.sandbox.token);
  assert.equal(landing?.request().redirectedFrom()?.url(), `${sb.url}/?token=${sb.sandbox.token}`);
  await page.getByText('SANDBOX — not connected to Slack').waitFor();
  await page.getByText('live', { exact: true }).waitFor();
  assert.equal(await page.getByLabel('Acting as').inputValue(), 'U0ALICE01');
  await page.getByRole('button', { name: '# incidents' }).click();
  await shot('console');

  // Declare: /incident opens the modal; a required field left empty is flagged before sending.
  const composer = page.getByRole('textbox', { name: 'Message' });
  await composer.fill('/incident');
  await composer.press('Enter');
  const modal = page.getByRole('dialog');
  await modal.getByRole('heading', { name: 'Declare an incident' }).waitFor();
  await modal.getByRole('button', { name: 'Declare' }).click();
  await modal.getByText('Please complete this required field.').first().waitFor();
  await modal.getByLabel('Title', { exact: true }).fill('Checkout API returning 500s');
  await modal.getByLabel('Severity').selectOption('high');
  await modal.getByLabel('What is happening?').fill('Error rate jumped to 12% right after the 14:02 deploy.');
  await shot('declare-modal');
  await modal.getByRole('button', { name: 'Declare' }).click();
  await modal.waitFor({ state: 'hidden' });

  // The new channel appears in the sidebar; inside it, the pinned card with its buttons.
  const channelButton = page.getByRole('button', { name: /inc-\d{8}-checkout-api-returning-500s/ });
  await channelButton.click();
  await page.locator('#strip .pin', { hasText: 'Checkout API returning 500s' }).waitFor();
  const card = page.locator('.msg.pinned');
  await card.getByRole('heading', { name: /Checkout API returning 500s/ }).waitFor();
  await card.getByRole('button', { name: 'Propose action' }).waitFor();
  assert.match((await page.locator('#topic').textContent()) ?? '', /HIGH \| investigating \| IC: @alice/);
  // A long channel name is cut with an ellipsis in the sidebar, not wrapped or overflowing.
  const nameBox = await channelButton.locator('.name').evaluate((el) => ({
    scroll: el.scrollWidth,
    client: el.clientWidth,
    overflow: (globalThis as unknown as { getComputedStyle(e: unknown): { textOverflow: string } }).getComputedStyle(el).textOverflow,
  }));
  assert.equal(nameBox.overflow, 'ellipsis');
  assert.ok(nameBox.scroll > nameBox.client, 'the long name is truncated');
  // Date tokens are drawn as a time in the reader's zone, never as raw <!date…> text.
  assert.doesNotMatch((await page.locator('#messages').textContent()) ?? '', /<!date|!date\^/);
  await card.locator('time').first().waitFor();

  // The open channel survives a reload.
  const channelUrl = page.url();
  await page.reload();
  await page.getByText('live', { exact: true }).waitFor();
  assert.equal(page.url(), channelUrl);
  assert.match((await page.locator('#channel-name').textContent()) ?? '', /inc-\d{8}-checkout-api-returning-500s/);
  await card.getByRole('button', { name: 'Propose action' }).waitFor();

  // :pushpin: from the reaction picker adds the message to the timeline (the real reaction_added event).
  await composer.fill('Error rate back under 1% after the config rollback');
  await composer.press('Enter');
  const note = page.locator('.msg', { hasText: 'Error rate back under 1% after the config rollback' });
  await note.hover();
  await note.getByRole('button', { name: 'Add reaction' }).click();
  await note.getByRole('button', { name: 'React with :pushpin:' }).click();
  await note
    .locator('.reactions')
    .getByRole('button', { name: /pushpin: 1/ })
    .waitFor();
  const incidentId = (await sb.fb.deps.store.listOpenIncidents()).find((i) => i.title === 'Checkout API returning 500s')!.id;
  await waitUntil(
    async () => (await sb.fb.deps.store.listTimeline(incidentId)).some((t) => t.kind === 'pin' && /back under 1%/.test(t.text)),
    'the pinned message in the timeline',
  );
  await page.mouse.move(0, 0);
  await shot('incident-channel');

  // Bob, a responder, proposes a rollback; he cannot approve his own proposal.
  await page.getByLabel('Acting as').selectOption('U0BOB0001');
  await composer.fill('/incident action rollback_deployment service=api version=v41');
  await composer.press('Enter');
  const approval = page.locator('.msg:not(.ephemeral)', { hasText: 'Proposed by' });
  await approval.getByText('Approval requested').waitFor();
  await approval.getByRole('button', { name: 'Approve' }).waitFor();
  await approval.getByText('Waiting for approval').waitFor();
  await approval.getByRole('button', { name: 'Approve' }).click();
  await page.locator('.msg.ephemeral', { hasText: 'someone else must approve it' }).waitFor();
  await shot('proposed-by-bob');

  // Alice, the commander, approves; the message shows who approved and the result.
  await page.getByLabel('Acting as').selectOption('U0ALICE01');
  assert.equal(await page.locator('.msg.ephemeral', { hasText: 'someone else must approve it' }).count(), 0, "bob's ephemeral is not shown to alice");
  await approval.getByRole('button', { name: 'Approve' }).click();
  await approval.getByText(/Approved by @alice · ran/).waitFor();
  assert.equal(await approval.getByText('Approval requested').count(), 0, 'the request title is replaced by the outcome');
  await approval.getByText(/demo executor: signature verified/).waitFor();
  await page.locator('#executor-calls li', { hasText: 'rollback_deployment' }).waitFor();
  await page.mouse.move(0, 0);
  await page.locator('#messages').evaluate((el) => (el.scrollTop = el.scrollHeight));
  await page.locator('.layout').screenshot({ path: README_SHOT });
  assert.equal(await approval.getByRole('button', { name: 'Approve' }).count(), 0, 'the buttons are gone once decided');
  await shot('approved-by-alice');

  // The alerts panel fires a signed sample alert at the real webhook route.
  await page.getByRole('button', { name: 'PagerDuty' }).click();
  await page.getByText('pagerduty: accepted (HTTP 202)').waitFor();
  await page.getByRole('button', { name: /inc-\d{8}-pagerduty-checkout/ }).waitFor();
  await shot('pagerduty-alert');

  assert.deepEqual(errors, [], 'no errors in the page');
});
