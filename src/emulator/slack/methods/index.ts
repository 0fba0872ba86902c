import type { MethodHandler } from '../args.js';
import { chatMethods } from './chat.js';
import { conversationsMethods } from './conversations.js';
import { fileMethods } from './files.js';
import { itemMethods } from './items.js';
import { userMethods } from './users.js';
import { viewMethods } from './views.js';

/** Every Web API method the emulator answers; anything else is `unknown_method`. */
export const METHODS: Readonly<Record<string, MethodHandler>> = {
  ...userMethods,
  ...conversationsMethods,
  ...chatMethods,
  ...itemMethods,
  ...viewMethods,
  ...fileMethods,
};
