import { z } from 'zod';
import { SlackApiError, parseArgs, zInt, zJson, zTs, type MethodHandler } from '../args.js';
import { requireMember, requireNotArchived, visibleChannel } from './conversations.js';
import { renderMessage } from './render.js';

/**
 * Slack's two-step upload (files.upload is retired): `files.getUploadURLExternal` hands out an
 * upload URL and a file id; the client POSTs the bytes there (served by the emulator, see server.ts);
 * `files.completeUploadExternal` shares the uploaded files to a channel, with an optional comment,
 * as one message. A file whose bytes never arrived, or whose size differs from the declared
 * `length`, is refused as Slack does.
 */

/** Slack's own cap for one file. */
export const MAX_FILE_BYTES = 1024 * 1024 * 1024;

const getUploadURLExternalArgs = z.object({
  filename: z.string().min(1),
  length: zInt.pipe(z.number().int().min(1).max(MAX_FILE_BYTES)),
  alt_txt: z.string().optional(),
  snippet_type: z.string().optional(),
});
const getUploadURLExternal: MethodHandler = (ctx) => {
  const a = parseArgs(getUploadURLExternalArgs, ctx.args);
  const id = ctx.state.newId('F');
  ctx.state.files.set(id, {
    id,
    name: a.filename,
    title: a.filename,
    length: a.length,
    user: ctx.actor,
    created: Math.floor(ctx.state.clock() / 1000),
    bytes: null,
    mimetype: null,
    channels: [],
    completed: false,
  });
  return { upload_url: `${ctx.baseUrl}/upload/v1/${id}`, file_id: id };
};

const MIME: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  svg: 'image/svg+xml',
  txt: 'text/plain',
  csv: 'text/csv',
  json: 'application/json',
  pdf: 'application/pdf',
};

const completeUploadExternalArgs = z.object({
  files: zJson(z.array(z.object({ id: z.string(), title: z.string().optional() })).min(1)),
  channel_id: z.string().optional(),
  channels: z.string().optional(),
  initial_comment: z.string().optional(),
  thread_ts: zTs.optional(),
});
const completeUploadExternal: MethodHandler = (ctx) => {
  const a = parseArgs(completeUploadExternalArgs, ctx.args);
  const files = a.files.map((f) => {
    const file = ctx.state.files.get(f.id);
    if (!file || file.user !== ctx.actor) throw new SlackApiError('file_not_found');
    if (file.bytes === null) throw new SlackApiError('file_upload_not_complete'); // nothing arrived at the upload URL
    if (file.bytes.length !== file.length) throw new SlackApiError('file_size_mismatch');
    return { file, title: f.title };
  });
  const channelId = a.channel_id ?? a.channels?.split(',')[0];
  const shared = files.map(({ file, title }) => {
    file.title = title ?? file.title;
    file.completed = true;
    const ext = file.name.split('.').pop()?.toLowerCase() ?? '';
    file.mimetype = MIME[ext] ?? 'application/octet-stream';
    const dims = ext === 'png' ? pngSize(file.bytes!) : null;
    return {
      id: file.id,
      name: file.name,
      title: file.title,
      mimetype: file.mimetype,
      filetype: ext || 'binary',
      size: file.length,
      url_private: `${ctx.baseUrl}/files/${file.id}`,
      ...(dims ? { original_w: dims.width, original_h: dims.height } : {}),
    };
  });
  if (channelId) {
    const ch = visibleChannel(ctx, channelId);
    requireNotArchived(ch);
    requireMember(ctx, ch);
    const msg = ctx.state.postMessage(ch.id, {
      user: ctx.actor,
      asBot: ctx.isBot,
      text: a.initial_comment ?? '',
      files: shared,
      ...(a.thread_ts ? { threadTs: a.thread_ts } : {}),
    });
    for (const { file } of files) file.channels.push(ch.id);
    renderMessage(ctx.state, msg);
  }
  return { files: shared.map((f) => ({ id: f.id, title: f.title })) };
};

/** Width and height from a PNG's IHDR chunk; null when the bytes are not a PNG. */
export function pngSize(b: Buffer): { width: number; height: number } | null {
  const sig = '89504e470d0a1a0a';
  if (b.length < 24 || b.subarray(0, 8).toString('hex') !== sig || b.subarray(12, 16).toString('ascii') !== 'IHDR') return null;
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

export const fileMethods: Record<string, MethodHandler> = {
  'files.getUploadURLExternal': getUploadURLExternal,
  'files.completeUploadExternal': completeUploadExternal,
};
