import assert from 'node:assert/strict';
import { test } from 'node:test';
import { markdownToBlocks } from '../../src/slack/blocks/postmortem.js';
import { validateBlocks } from '../../src/emulator/slack/index.js';

type B = { type: string; text?: { type: string; text: string } };

test('a Markdown draft becomes header and section blocks, with no Markdown markers left', () => {
  const md =
    '# INC-7: API down — post-mortem draft\n\n## Summary\nIt broke at 2024-04-05 14:00 UTC.\n\n## Timeline\n- **14:00** alert\n- see [the graph](https://grafana.example/d/1)\n\n---\n## Prevention\n_To be written._';
  const blocks = markdownToBlocks(md) as B[];
  assert.deepEqual(
    blocks.filter((b) => b.type === 'header').map((b) => b.text!.text),
    ['INC-7: API down — post-mortem draft', 'Summary', 'Timeline', 'Prevention'],
  );
  const text = blocks.map((b) => b.text?.text ?? '').join('\n');
  assert.doesNotMatch(text, /^#|\*\*|^- /m);
  assert.match(text, /• \*14:00\* alert/);
  assert.match(text, /<https:\/\/grafana\.example\/d\/1\|the graph>/);
  assert.match(text, /<!date\^1712325600\^\{date_short_pretty\} \{time\}\|2024-04-05 14:00 UTC>/);
  assert.ok(blocks.some((b) => b.type === 'divider'));
});

test("a long draft stays within Slack's limits and says what it left out", () => {
  const md = Array.from({ length: 80 }, (_, i) => `## Section ${i} ${'x'.repeat(200)}\n${'word '.repeat(1000)}`).join('\n');
  const blocks = markdownToBlocks(md, 45) as B[];
  assert.equal(blocks.length, 45);
  assert.match(blocks.at(-1)!.text!.text, /more parts of the draft are not shown here/);
  for (const b of blocks) {
    if (b.type === 'header') assert.ok(b.text!.text.length <= 150);
    if (b.type === 'section') assert.ok(b.text!.text.length <= 3000);
  }
  assert.deepEqual(validateBlocks(blocks, { max: 50 }), []);
});

test("the skeleton from the record keeps its people as mentions; Claude's draft keeps none; broadcasts never ping", () => {
  const md = '## Timeline\n- 2024-04-05 14:00 UTC — declared by <@U0ALICE01>: Checkout down <!channel>\n- approved by <@U0BOB0001> <!subteam^S1>';
  const text = (blocks: B[]) => blocks.map((b) => b.text?.text ?? '').join('\n');
  const record = text(markdownToBlocks(md, 45, { fromRecord: true }) as B[]);
  assert.match(record, /declared by <@U0ALICE01>/);
  assert.match(record, /approved by <@U0BOB0001>/);
  assert.match(record, /&lt;!channel&gt;/);
  assert.match(record, /&lt;!subteam\^S1&gt;/);
  const claude = text(markdownToBlocks(md) as B[]);
  assert.match(claude, /declared by &lt;@U0ALICE01&gt;/);
  assert.doesNotMatch(claude, /<@U0|<!channel>/);
});
