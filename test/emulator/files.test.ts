import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { WebClient } from '@slack/web-api';
import { GENERAL_CHANNEL_ID, startSlackEmulator, type SlackEmulator } from '../../src/emulator/slack/index.js';
import { silentSlackLogger } from './helpers.js';
import { chatOn } from '../adapters/slack/chat-on-emulator.js';

const TOKEN = 'xoxb-files-test';
let emu: SlackEmulator;
let client: WebClient;
before(async () => {
  emu = await startSlackEmulator({ botToken: TOKEN });
  client = new WebClient(TOKEN, { slackApiUrl: emu.apiUrl, logger: silentSlackLogger, retryConfig: { retries: 0 } });
});
after(async () => emu.close());

const refused = async (p: Promise<unknown>, error: string) => assert.rejects(p, (e: { data?: { error?: string } }) => e.data?.error === error);

test('the two-step upload: URL, bytes, complete; the message carries the file and url_private serves it to the token holder', async () => {
  const chat = chatOn(emu, TOKEN, { retries: 0 });
  const bytes = new TextEncoder().encode('hello, file');
  const { fileId } = await chat.uploadFile({ channelId: GENERAL_CHANNEL_ID, filename: 'note.txt', title: 'A note', bytes, initialComment: 'see the note' });
  const msg = emu.state.messages(GENERAL_CHANNEL_ID).find((m) => m.files?.[0]?.id === fileId)!;
  assert.equal(msg.text, 'see the note');
  assert.equal(msg.files![0]!.title, 'A note');
  assert.equal(msg.files![0]!.size, bytes.length);
  const noToken = await fetch(msg.files![0]!.url_private);
  assert.equal(noToken.status, 403);
  await noToken.arrayBuffer();
  const got = await fetch(msg.files![0]!.url_private, { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(await got.text(), 'hello, file');
});

test('refused like Slack: missing arguments, completing before the bytes arrive, a size that differs, an unknown file', async () => {
  await refused(client.apiCall('files.getUploadURLExternal', { filename: 'x.png' }), 'invalid_arguments');
  const a = (await client.apiCall('files.getUploadURLExternal', { filename: 'x.png', length: 10 })) as unknown as { upload_url: string; file_id: string };
  await refused(client.apiCall('files.completeUploadExternal', { files: [{ id: a.file_id }], channel_id: GENERAL_CHANNEL_ID }), 'file_upload_not_complete');
  const up = await fetch(a.upload_url, { method: 'POST', body: 'short' });
  assert.equal(up.status, 200);
  assert.equal(await up.text(), 'OK - 5');
  await refused(client.apiCall('files.completeUploadExternal', { files: [{ id: a.file_id }], channel_id: GENERAL_CHANNEL_ID }), 'file_size_mismatch');
  await refused(client.apiCall('files.completeUploadExternal', { files: [{ id: 'F0UNKNOWN' }], channel_id: GENERAL_CHANNEL_ID }), 'file_not_found');
  const again = await fetch(a.upload_url, { method: 'POST', body: 'second try' });
  assert.equal(again.status, 404, 'an upload URL is good for one upload');
  await again.arrayBuffer();
});
