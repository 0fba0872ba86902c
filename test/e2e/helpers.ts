import type { SlackEmulator } from '../../src/emulator/slack/index.js';
import type { Bot } from './harness.js';

export const ALICE = 'U0ALICE01';
export const BOB = 'U0BOB0001';
export const CAROL = 'U0CAROL01';

/** The open modal a user sees with the given callback id (the newest one). */
export function openView(emulator: SlackEmulator, user: string, callbackId: string) {
  return emulator.state
    .snapshot()
    .views.filter((v) => v.user_id === user && v.callback_id === callbackId && (v as { open?: boolean }).open !== false)
    .at(-1);
}

export function channelsNamed(emulator: SlackEmulator, prefix: string) {
  return emulator.state.snapshot().channels.filter((c) => c.name.startsWith(prefix));
}

/** Messages in a channel whose blocks carry a block_id starting with `marker`. */
export function messagesWithMarker(emulator: SlackEmulator, channel: string, marker: string) {
  return emulator.state.messages(channel).filter((m) => (m.blocks ?? []).some((b) => String((b as { block_id?: string }).block_id ?? '').startsWith(marker)));
}

export function blocksText(blocks: unknown[] | undefined): string {
  return JSON.stringify(blocks ?? []);
}

/** Wait until the incident's declare flow finished (audit entry written). */
export async function flowDone(bot: Bot, incidentId: string, ms = 8000) {
  await bot.waitFor(
    async () => (await bot.fb.deps.store.listAudit({ incidentId })).some((a) => a.action === 'incident.flow_completed'),
    ms,
    `declare flow of ${incidentId}`,
  );
  await bot.fb.deps.jobs.idle();
}

/** The hostile string of issue 12: a mass mention, a disguised link, a user and a group mention, pre-escaped text. */
export const HOSTILE = 'Edge down <!channel> see <https://evil.example|https://status.example.com> <@U0ALICE01> <!subteam^S1> &lt;!here&gt;';

/** Active formatting in mrkdwn: a special mention, a user/channel mention not from `allowedIds`, or a label that is not its URL. */
export function activeFormatting(text: string, allowedIds: Set<string>): string[] {
  const found: string[] = [];
  // Slack unescapes &lt; &gt; only for display: `&lt;!here&gt;` in the wire text is inert, `<!here>` is not.
  for (const m of text.matchAll(/<([^<>]*)>/g)) {
    const inner = m[1]!;
    if (inner.startsWith('!date^')) continue; // the bot's own date formatting
    if (/^[@#]/.test(inner)) {
      if (!allowedIds.has(inner.slice(1).split('|')[0]!)) found.push(m[0]);
    } else if (inner.startsWith('!')) found.push(m[0]);
    else if (inner.includes('|')) {
      const url = inner.slice(0, inner.indexOf('|'));
      if (/evil\.example/.test(url) || /example\.com/.test(inner.slice(inner.indexOf('|') + 1))) found.push(m[0]);
    }
  }
  return found;
}

