import type { App } from '@slack/bolt';
import type { Deps } from '../../services/deps.js';
import { pinToTimeline } from '../../services/lifecycle.js';
import { publishHome } from '../../services/insights.js';
import { homeFollowupBlocks } from '../../services/followups.js';

/**
 * Events API. Slack retries deliveries (`x-slack-retry-num`); each event id is processed once,
 * recorded in the store before the work.
 */
export function registerEvents(app: App, deps: Deps): void {
  const firstTime = async (body: unknown): Promise<boolean> => {
    const id = (body as { event_id?: string }).event_id;
    if (!id) return true;
    return deps.store.markProcessed(`slack-event:${id}`, deps.clock.now());
  };

  app.event('reaction_added', async ({ event, body }) => {
    if (event.reaction !== 'pushpin' || event.item.type !== 'message') return;
    if (!(await firstTime(body))) return;
    await pinToTimeline(deps, event.item.channel, event.item.ts, event.user);
  });

  app.event('app_home_opened', async ({ event, body }) => {
    if (event.tab && event.tab !== 'home') return;
    if (!(await firstTime(body))) return;
    await publishHome(deps, event.user, await homeFollowupBlocks(deps, event.user));
  });
}
