import { LogLevel, type Logger } from '@slack/web-api';

/** A Slack client logger that says nothing (tests assert on behaviour, not on the client's chatter). */
export const silentSlackLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  setLevel() {},
  getLevel: () => LogLevel.ERROR,
  setName() {},
};
