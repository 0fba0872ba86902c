/**
 * Block Kit validation with Slack's published limits. Problems are reported the way Slack reports
 * them in `response_metadata.messages`: `[ERROR] <what> [json-pointer:/blocks/0/text/text]`.
 *
 * Covered: block count per surface, known block types, text object shape, the length limits the
 * product can hit (section 3000, header 150, button 75/2000, ids 255, view title/submit/close 24,
 * private_metadata 3000), actions ≤ 25 elements, duplicate block_ids (per message/view), duplicate action_ids (per block), a modal with
 * input blocks needing `submit`.
 * Not covered: every element's every optional field, rich_text internals, image URL reachability.
 * Slack is stricter in corners; it is never laxer than this for what is checked here.
 */

export const MAX_MESSAGE_BLOCKS = 50;
export const MAX_VIEW_BLOCKS = 100;
export const MAX_MESSAGE_TEXT = 40_000;

export const KNOWN_BLOCK_TYPES = new Set(['section', 'header', 'divider', 'context', 'actions', 'input', 'image', 'rich_text', 'markdown']);

/** Interactive elements allowed in an actions block. */
const ACTION_ELEMENTS = new Set([
  'button',
  'static_select',
  'external_select',
  'users_select',
  'conversations_select',
  'channels_select',
  'multi_static_select',
  'multi_external_select',
  'multi_users_select',
  'multi_conversations_select',
  'multi_channels_select',
  'overflow',
  'datepicker',
  'timepicker',
  'datetimepicker',
  'checkboxes',
  'radio_buttons',
]);

/** Elements allowed in an input block. */
const INPUT_ELEMENTS = new Set([...ACTION_ELEMENTS, 'plain_text_input', 'email_text_input', 'url_text_input', 'number_input', 'rich_text_input', 'file_input']);
INPUT_ELEMENTS.delete('button');
INPUT_ELEMENTS.delete('overflow');

/** Elements allowed as a section accessory. */
const ACCESSORY_ELEMENTS = new Set([...ACTION_ELEMENTS, 'image']);

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

class Problems {
  readonly list: string[] = [];
  add(message: string, pointer: string): void {
    this.list.push(`[ERROR] ${message} [json-pointer:${pointer}]`);
  }
}

function checkText(p: Problems, v: unknown, ptr: string, o: { max: number; plainOnly?: boolean; required?: boolean }): void {
  if (v === undefined) {
    if (o.required !== false) p.add('missing required field: text', ptr);
    return;
  }
  if (!isObj(v)) {
    p.add('must be a text object', ptr);
    return;
  }
  if (v.type !== 'plain_text' && v.type !== 'mrkdwn') {
    p.add('must be a valid enum value', `${ptr}/type`);
    return;
  }
  if (o.plainOnly && v.type !== 'plain_text') p.add('must be a valid enum value', `${ptr}/type`);
  if (typeof v.text !== 'string') {
    p.add('missing required field: text', `${ptr}/text`);
    return;
  }
  if (v.text.length === 0) p.add('must be more than 0 characters', `${ptr}/text`);
  if (v.text.length > o.max) p.add(`must be less than ${o.max + 1} characters`, `${ptr}/text`);
  if (v.type === 'mrkdwn' && 'emoji' in v) p.add('emoji is not allowed for mrkdwn text', `${ptr}/emoji`);
}

function checkMaxLen(p: Problems, v: unknown, ptr: string, max: number): void {
  if (v === undefined) return;
  if (typeof v !== 'string') p.add('must be a string', ptr);
  else if (v.length > max) p.add(`must be less than ${max + 1} characters`, ptr);
}

function checkOptions(p: Problems, v: unknown, ptr: string, max: number): void {
  if (!Array.isArray(v)) {
    p.add('must be an array', ptr);
    return;
  }
  if (v.length === 0) p.add('must provide at least 1 items', ptr);
  if (v.length > max) p.add(`no more than ${max} items allowed`, ptr);
  v.forEach((opt, i) => {
    if (!isObj(opt)) return p.add('must be an option object', `${ptr}/${i}`);
    checkText(p, opt.text, `${ptr}/${i}/text`, { max: 75 });
    if (typeof opt.value !== 'string') p.add('missing required field: value', `${ptr}/${i}/value`);
    else checkMaxLen(p, opt.value, `${ptr}/${i}/value`, 150);
  });
}

function checkElement(p: Problems, el: unknown, ptr: string, allowed: Set<string>, actionIds: Set<string>): void {
  if (!isObj(el)) return p.add('must be an element object', ptr);
  const type = el.type;
  if (typeof type !== 'string' || !allowed.has(type)) return p.add('must be a valid enum value', `${ptr}/type`);
  if (el.action_id !== undefined) {
    checkMaxLen(p, el.action_id, `${ptr}/action_id`, 255);
    if (typeof el.action_id === 'string') {
      if (actionIds.has(el.action_id)) p.add(`action_id already exists: ${el.action_id}`, `${ptr}/action_id`);
      actionIds.add(el.action_id);
    }
  }
  if (el.placeholder !== undefined) checkText(p, el.placeholder, `${ptr}/placeholder`, { max: 150, plainOnly: true });
  switch (type) {
    case 'button':
      checkText(p, el.text, `${ptr}/text`, { max: 75, plainOnly: true });
      checkMaxLen(p, el.value, `${ptr}/value`, 2000);
      checkMaxLen(p, el.url, `${ptr}/url`, 3000);
      if (el.style !== undefined && el.style !== 'primary' && el.style !== 'danger') p.add('must be a valid enum value', `${ptr}/style`);
      break;
    case 'static_select':
    case 'multi_static_select':
      if (el.options === undefined && el.option_groups === undefined) p.add('must provide options or option_groups', ptr);
      if (el.options !== undefined) checkOptions(p, el.options, `${ptr}/options`, 100);
      break;
    case 'checkboxes':
    case 'radio_buttons':
      checkOptions(p, el.options, `${ptr}/options`, 10);
      break;
    case 'overflow':
      checkOptions(p, el.options, `${ptr}/options`, 5);
      if (Array.isArray(el.options) && el.options.length < 2) p.add('must provide at least 2 items', `${ptr}/options`);
      break;
    case 'plain_text_input':
      checkMaxLen(p, el.initial_value, `${ptr}/initial_value`, 3000);
      if (typeof el.max_length === 'number' && el.max_length > 3000) p.add('must be less than 3001', `${ptr}/max_length`);
      break;
    case 'image':
      if (typeof el.image_url !== 'string' && el.slack_file === undefined) p.add('missing required field: image_url', ptr);
      if (typeof el.alt_text !== 'string') p.add('missing required field: alt_text', `${ptr}/alt_text`);
      break;
    default:
      break;
  }
}

function checkBlock(p: Problems, b: unknown, ptr: string, blockIds: Set<string>, actionIds: Set<string>): void {
  if (!isObj(b)) return p.add('must be a block object', ptr);
  if (typeof b.type !== 'string' || !KNOWN_BLOCK_TYPES.has(b.type)) {
    return p.add(`unsupported type: ${String(b.type)}`, `${ptr}/type`);
  }
  if (b.block_id !== undefined) {
    checkMaxLen(p, b.block_id, `${ptr}/block_id`, 255);
    if (typeof b.block_id === 'string') {
      if (blockIds.has(b.block_id)) p.add(`block_id already exists: ${b.block_id}`, `${ptr}/block_id`);
      blockIds.add(b.block_id);
    }
  }
  switch (b.type) {
    case 'section': {
      if (b.text === undefined && b.fields === undefined) p.add('must provide text or fields', ptr);
      if (b.text !== undefined) checkText(p, b.text, `${ptr}/text`, { max: 3000 });
      if (b.fields !== undefined) {
        if (!Array.isArray(b.fields)) p.add('must be an array', `${ptr}/fields`);
        else {
          if (b.fields.length > 10) p.add('no more than 10 items allowed', `${ptr}/fields`);
          b.fields.forEach((f, i) => checkText(p, f, `${ptr}/fields/${i}`, { max: 2000 }));
        }
      }
      if (b.accessory !== undefined) checkElement(p, b.accessory, `${ptr}/accessory`, ACCESSORY_ELEMENTS, actionIds);
      break;
    }
    case 'header':
      checkText(p, b.text, `${ptr}/text`, { max: 150, plainOnly: true });
      break;
    case 'context': {
      if (!Array.isArray(b.elements) || b.elements.length === 0) p.add('must provide at least 1 items', `${ptr}/elements`);
      else {
        if (b.elements.length > 10) p.add('no more than 10 items allowed', `${ptr}/elements`);
        b.elements.forEach((e, i) => {
          const ep = `${ptr}/elements/${i}`;
          if (isObj(e) && e.type === 'image') checkElement(p, e, ep, new Set(['image']), actionIds);
          else checkText(p, e, ep, { max: 3000 });
        });
      }
      break;
    }
    case 'actions': {
      if (!Array.isArray(b.elements) || b.elements.length === 0) p.add('must provide at least 1 items', `${ptr}/elements`);
      else {
        if (b.elements.length > 25) p.add('no more than 25 items allowed', `${ptr}/elements`);
        b.elements.forEach((e, i) => checkElement(p, e, `${ptr}/elements/${i}`, ACTION_ELEMENTS, actionIds));
      }
      break;
    }
    case 'input':
      checkText(p, b.label, `${ptr}/label`, { max: 2000, plainOnly: true });
      if (b.element === undefined) p.add('missing required field: element', ptr);
      else checkElement(p, b.element, `${ptr}/element`, INPUT_ELEMENTS, actionIds);
      if (b.hint !== undefined) checkText(p, b.hint, `${ptr}/hint`, { max: 2000, plainOnly: true });
      break;
    case 'image':
      checkElement(p, { ...b, type: 'image', block_id: undefined }, ptr, new Set(['image']), actionIds);
      if (b.title !== undefined) checkText(p, b.title, `${ptr}/title`, { max: 2000, plainOnly: true });
      break;
    case 'rich_text':
      if (!Array.isArray(b.elements)) p.add('missing required field: elements', ptr);
      break;
    case 'markdown':
      checkMaxLen(p, b.text, `${ptr}/text`, 12000);
      if (typeof b.text !== 'string') p.add('missing required field: text', ptr);
      break;
    default:
      break;
  }
}

/** Validate a `blocks` array; `pointer` is where it sits in the request (`/blocks`, `/view/blocks`). */
export function validateBlocks(blocks: unknown, opts: { max: number; pointer?: string }): string[] {
  const ptr = opts.pointer ?? '/blocks';
  const p = new Problems();
  if (!Array.isArray(blocks)) {
    p.add('must be an array', ptr);
    return p.list;
  }
  if (blocks.length > opts.max) p.add(`no more than ${opts.max} items allowed`, ptr);
  const blockIds = new Set<string>();
  // Slack wants action_ids unique within their containing block only.
  blocks.forEach((b, i) => checkBlock(p, b, `${ptr}/${i}`, blockIds, new Set<string>()));
  return p.list;
}

/** Validate a modal or Home tab view object as passed to views.open/update/push/publish. */
export function validateView(view: unknown): string[] {
  const p = new Problems();
  if (!isObj(view)) {
    p.add('must be an object', '/view');
    return p.list;
  }
  if (view.type !== 'modal' && view.type !== 'home') p.add('must be a valid enum value', '/view/type');
  if (view.type === 'modal') checkText(p, view.title, '/view/title', { max: 24, plainOnly: true });
  else if (view.title !== undefined) checkText(p, view.title, '/view/title', { max: 24, plainOnly: true });
  if (view.submit !== undefined) checkText(p, view.submit, '/view/submit', { max: 24, plainOnly: true });
  if (view.close !== undefined) checkText(p, view.close, '/view/close', { max: 24, plainOnly: true });
  checkMaxLen(p, view.private_metadata, '/view/private_metadata', 3000);
  checkMaxLen(p, view.callback_id, '/view/callback_id', 255);
  checkMaxLen(p, view.external_id, '/view/external_id', 255);
  const blockProblems = validateBlocks(view.blocks, { max: MAX_VIEW_BLOCKS, pointer: '/view/blocks' });
  p.list.push(...blockProblems);
  if (view.type === 'modal' && view.submit === undefined && Array.isArray(view.blocks)) {
    if (view.blocks.some((b) => isObj(b) && b.type === 'input')) {
      p.add('must provide submit when the view has input blocks', '/view/submit');
    }
  }
  return p.list;
}
