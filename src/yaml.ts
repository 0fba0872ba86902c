import { createRequire } from 'node:module';

/**
 * YAML text → value, with the parser loaded the first time there is YAML to read (a config file,
 * a runbook folder, an app manifest): most processes read none after start-up, and the parser
 * costs its heap for the life of the process once loaded. Throws the parser's error on bad YAML.
 */
export function parseYaml(text: string): unknown {
  const { parse } = createRequire(import.meta.url)('yaml') as typeof import('yaml');
  return parse(text);
}
