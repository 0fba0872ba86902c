/**
 * The Slack workspace emulator and the signed-request driver: the public API.
 * `startSlackEmulator` serves the Web API (and Socket Mode with an app token); `SlackDriver` plays
 * Slack towards the bot, over signed HTTP or Socket Mode envelopes.
 */
export { startSlackEmulator, type SlackEmulator, type SlackEmulatorOptions } from './server.js';
export {
  SlackDriver,
  type SlackDriverOptions,
  type DriverResponse,
  type SendOptions,
  type SlashResult,
  type MessageRef,
  type ViewRef,
  type ClickOptions,
  type SubmitValues,
  type EventOptions,
  type EventResult,
} from './driver.js';
export {
  WorkspaceState,
  compareTs,
  SEED_PEOPLE,
  SRE_LEADS_GROUP_ID,
  GENERAL_CHANNEL_ID,
  INCIDENTS_CHANNEL_ID,
  DEFAULT_TEAM_ID,
  DEFAULT_BOT_USER_ID,
  DEFAULT_BOT_ID,
  DEFAULT_APP_ID,
  type WorkspaceOptions,
  type WorkspaceSnapshot,
} from './state.js';
export type { Fault } from './faults.js';
export {
  SocketModeServer,
  SocketDispatchError,
  SOCKET_ACK_TIMEOUT_MS,
  SOCKET_TICKET_TTL_MS,
  type EnvelopeType,
  type EnvelopeRecord,
  type DeliverOptions,
  type DeliveryResult,
  type SocketConnectionInfo,
} from './socket-mode.js';
export { plainSlackText } from './text.js';
export { validateBlocks, validateView, MAX_MESSAGE_BLOCKS, MAX_VIEW_BLOCKS, MAX_MESSAGE_TEXT } from './blockkit.js';
export { METHOD_SCOPES, CHAT_WRITE_PUBLIC, botScopesFromManifest, defaultBotScopes, findManifest, type ScopeNeed } from './scopes.js';
export { METHOD_TIERS, TIER_PER_MINUTE, POST_MESSAGE_BURST, tierOf, type Tier } from './tiers.js';
export { TRIGGER_TTL_MS } from './methods/views.js';
export { RESPONSE_URL_MAX_USES, RESPONSE_URL_TTL_MS } from './responses.js';
export type * from './types.js';
