import type { ViewSubmitAction } from '@slack/bolt';
import { INPUT } from '../ids.js';

/** Reading a submitted modal's input blocks. */
type Values = ViewSubmitAction['view']['state']['values'];

/** Read one input block's value, whatever the element type (the element's action_id is INPUT). */
export function readInput(values: Values, block: string): string | string[] | null {
  const el = values[block]?.[INPUT] as
    | {
        value?: string | null;
        selected_option?: { value: string } | null;
        selected_user?: string | null;
        selected_date?: string | null;
        selected_options?: { value: string }[];
        selected_users?: string[];
      }
    | undefined;
  if (!el) return null;
  if (el.selected_option !== undefined) return el.selected_option?.value ?? null;
  if (el.selected_user !== undefined) return el.selected_user ?? null;
  if (el.selected_date !== undefined) return el.selected_date ?? null;
  if (el.selected_options !== undefined) return el.selected_options.map((o) => o.value);
  if (el.selected_users !== undefined) return el.selected_users;
  return el.value ?? null;
}

/** One input block as trimmed text ('' when empty or not a single value). */
export function readText(values: Values, block: string): string {
  const v = readInput(values, block);
  return typeof v === 'string' ? v.trim() : '';
}
