import { SlackChat, type SlackChatOptions } from '../../../src/adapters/slack/chat.js';
import type { SlackEmulator } from '../../../src/emulator/slack/index.js';
import { createLogger } from '../../../src/log.js';

/** The Slack adapter as the bot builds it, pointed at the Slack emulator, with a silent log; `opts` overrides (retries, clock, sleep). */
export function chatOn(emu: SlackEmulator, token: string, opts: Partial<SlackChatOptions> = {}): SlackChat {
  return new SlackChat({ token, apiUrl: emu.apiUrl, logger: createLogger({ level: 'silent' }), ...opts });
}
