import { ConfigError, loadConfig, type Config } from './config.js';
import { loadEnvFile, type EnvFileResult } from './env-file.js';
import { createLogger, secretValues } from './log.js';
import { buildFirebreak } from './app.js';
import { createServer } from 'node:net';
import { createHttpServer, listen } from './server.js';
import { startIdleGc } from './idle-gc.js';

/**
 * Entry point: load config → build → listen → start. SIGTERM/SIGINT: stop taking new work, finish
 * or hand back what is in flight, close the store. A second signal exits at once.
 */
async function main(): Promise<void> {
  const startedAt = performance.now();
  let config: Config;
  let envFile: EnvFileResult;
  try {
    envFile = loadEnvFile();
  } catch (err) {
    process.stderr.write(`firebreak: cannot start, ./.env could not be read: ${(err as Error).message}\n`);
    process.exit(2);
  }
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      const source = envFile.path ? ` (settings from the environment and ${envFile.path})` : '';
      process.stderr.write(`firebreak: cannot start, configuration problems${source}:\n${err.problems.map((p) => `  - ${p}`).join('\n')}\n`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger({ level: config.logLevel, secrets: secretValues(process.env) });
  if (envFile.path)
    logger.info(
      { file: envFile.path, applied: envFile.applied, keptFromEnvironment: envFile.overridden },
      `read ${envFile.applied.length} setting(s) from ${envFile.path}${envFile.overridden.length ? `; the environment's own value kept for ${envFile.overridden.join(', ')}` : ''}`,
    );

  // Nothing is touched before the port is known to be free. A second `npm start` beside a running
  // one would otherwise empty the running sandbox's database, or (SQLite) end the leases of the
  // running process's in-flight jobs as a dead run's and start working them, and only then fail on
  // the port. (Port 0 takes any free port: nothing to check.)
  if (config.port !== 0) await portFree(config.port, config.host).catch((err: NodeJS.ErrnoException) => listenFailure(config, err));

  let sandbox: { routes: import('./http/routes.js').Route[]; consoleUrl(port: number): string; agentToken: string; close(): Promise<void> } | null = null;
  if (config.slackMode === 'sandbox') {
    const { startSandbox } = await import('./sandbox/index.js');
    const s = await startSandbox(config, logger);
    config = s.config;
    sandbox = s;
  }

  const fb = await buildFirebreak(config, { logger });
  // Start (auth.test, Bolt's init, Socket Mode) before listening: a Slack request that arrived
  // before Bolt is initialised would be acked with no listener and lost.
  await fb.start();
  const { server, drain } = createHttpServer(fb, sandbox?.routes ?? []);
  const port = await listen(server, config.port, config.host).catch((err: NodeJS.ErrnoException) => listenFailure(config, err));
  logger.info(
    { port, mode: config.slackMode, backend: config.backend, store: fb.deps.store.dialect, startupMs: Math.round(performance.now() - startedAt) },
    `firebreak ready on :${port} (${config.slackMode} mode, ${config.backend} backend, ${fb.deps.store.dialect} store)`,
  );
  // Collect the young generation in quiet moments, not in the middle of the next declaration.
  const idleGc = startIdleGc();
  // The token in this URL is what lets the page use the console API: it is printed here only.
  if (sandbox)
    process.stdout.write(
      `\n  Firebreak sandbox: ${sandbox.consoleUrl(port)}\n` +
        `  Agent (MCP, docs/agents.md): http://localhost:${port}/mcp  Authorization: Bearer ${sandbox.agentToken}\n\n`,
    );

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    logger.info({ signal }, 'shutting down: draining requests and background work');
    idleGc.stop();
    drain();
    server.close();
    server.closeIdleConnections?.();
    try {
      await fb.stop();
      await sandbox?.close();
    } catch (err) {
      logger.error({ err }, 'error during shutdown');
    }
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

/** Listen on the port and let it go at once: fails as the real listen would (EADDRINUSE, EACCES...). */
function portFree(port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(port, host, () => probe.close(() => resolve()));
  });
}

function listenFailure(config: Config, err: NodeJS.ErrnoException): never {
  const why: Record<string, string> = {
    EADDRINUSE: 'another process already listens there (set PORT to a free port)',
    EACCES: 'not permitted (ports below 1024 need privileges; set PORT to 1024 or above)',
    EADDRNOTAVAIL: 'HOST is not an address of this machine',
  };
  throw new Error(`cannot listen on ${config.host}:${config.port}: ${why[err.code ?? ''] ?? err.message}`, { cause: err });
}

main().catch((err) => {
  process.stderr.write(`firebreak: failed to start: ${(err as Error)?.message ?? err}\n`);
  process.exit(1);
});
