import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseEnv } from 'node:util';

export interface EnvFileResult {
  /** Absolute path of the file read, or null when there is none. */
  path: string | null;
  /** Names taken from the file. */
  applied: string[];
  /** Names in the file that the real environment already set (the environment wins). */
  overridden: string[];
}

/**
 * Reads `./.env` (dotenv syntax, parsed by Node's own `util.parseEnv`) into `env` when the file
 * exists. A variable already present in the real environment keeps its value, even when empty: what
 * the process was started with always wins over the file. Returns names only, never values.
 */
export function loadEnvFile(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): EnvFileResult {
  const path = resolve(cwd, '.env');
  if (!existsSync(path)) return { path: null, applied: [], overridden: [] };
  const parsed = parseEnv(readFileSync(path, 'utf8')) as Record<string, string>;
  const applied: string[] = [];
  const overridden: string[] = [];
  for (const [name, value] of Object.entries(parsed)) {
    if (env[name] !== undefined) overridden.push(name);
    else {
      env[name] = value;
      applied.push(name);
    }
  }
  return { path, applied, overridden };
}
