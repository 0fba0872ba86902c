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
const present = existsSync(CHROMIUM);
if (!present && process.env.CI) throw new Error(`${CHROMIUM} is missing: CI must install it (apt-get install -y chromium)`);
const skip = present ? false : `${CHROMIUM} not found: install it with "apt-get install -y chromium" to run the browser test`;

let sb: RunningSandbox;
let browser: Browser;
let page: Page;
let step = 0;

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
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
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

  await page.goto(`${sb.url}/sandbox?token=${sb.sandbox.token}`);
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
  await shot('incident-channel');

  // Bob, a responder, proposes a rollback; he cannot approve his own proposal.
  await page.getByLabel('Acting as').selectOption('U0BOB0001');
  await composer.fill('/incident action rollback_deployment service=api version=v41');
  await composer.press('Enter');
  const approval = page.locator('.msg', { hasText: 'Approval requested' });
  await approval.getByRole('button', { name: 'Approve' }).waitFor();
  await approval.getByText('Waiting for approval').waitFor();
  await approval.getByRole('button', { name: 'Approve' }).click();
  await page.locator('.msg.ephemeral', { hasText: 'someone else must approve it' }).waitFor();
  await shot('proposed-by-bob');

  // Alice, the commander, approves; the message shows who approved and the result.
  await page.getByLabel('Acting as').selectOption('U0ALICE01');
  assert.equal(await page.locator('.msg.ephemeral', { hasText: 'someone else must approve it' }).count(), 0, "bob's ephemeral is not shown to alice");
  await approval.getByRole('button', { name: 'Approve' }).click();
  await approval.getByText(/Approved by @alice .*Done/).waitFor();
  assert.equal(await approval.getByRole('button', { name: 'Approve' }).count(), 0, 'the buttons are gone once decided');
  await shot('approved-by-alice');

  // The alerts panel fires a signed sample alert at the real webhook route.
  await page.getByRole('button', { name: 'PagerDuty' }).click();
  await page.getByText('pagerduty: accepted (HTTP 202)').waitFor();
  await page.getByRole('button', { name: /inc-\d{8}-pagerduty-checkout/ }).waitFor();
  await shot('pagerduty-alert');

  assert.deepEqual(errors, [], 'no errors in the page');
});
