/**
 * What a Slack client sends when a person types `@bob`, `@sre-leads` or `#incidents`: the mention
 * as Slack markup, resolved against the workspace. In a message the client writes `<@U…>`,
 * `<!subteam^S…>` and `<#C…>`; a slash command whose manifest entry has `should_escape: true`
 * (ours, manifest.yml) gets them escaped with the name as well, `<@U…|bob>`. The console is the
 * sandbox's client, so it does the same, and `/incident role scribe @bob` works there as in Slack.
 * A handle nobody has, a word inside an address (`bob@example.com`) and markup already written
 * (`<@U…>`) are left as typed. Pure: the workspace is passed in.
 */
export interface MentionDirectory {
  users: ReadonlyArray<{ id: string; name: string; deleted?: boolean }>;
  usergroups: ReadonlyArray<{ id: string; handle: string }>;
  channels: ReadonlyArray<{ id: string; name: string }>;
}

export function typedMentions(text: string, dir: MentionDirectory, form: 'message' | 'slash'): string {
  const escaped = form === 'slash';
  return text
    .replace(/(^|[\s(])@([a-z0-9][a-z0-9._-]*)(?=$|[\s),.;:!?])/gi, (whole, pre: string, handle: string) => {
      const h = handle.toLowerCase();
      const user = dir.users.find((u) => !u.deleted && u.name.toLowerCase() === h);
      if (user) return `${pre}<@${user.id}${escaped ? `|${user.name}` : ''}>`;
      const group = dir.usergroups.find((g) => g.handle.toLowerCase() === h);
      if (group) return `${pre}<!subteam^${group.id}${escaped ? `|@${group.handle}` : ''}>`;
      return whole;
    })
    .replace(/(^|[\s(])#([a-z0-9][a-z0-9_-]*)(?=$|[\s),.;:!?])/gi, (whole, pre: string, name: string) => {
      const ch = dir.channels.find((c) => c.name === name.toLowerCase());
      return ch ? `${pre}<#${ch.id}${escaped ? `|${ch.name}` : ''}>` : whole;
    });
}
