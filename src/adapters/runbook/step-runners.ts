import { spawn } from 'node:child_process';
import { request, type Dispatcher } from 'undici';
import {
  StepRunError,
  type CommandStepRequest,
  type CommandStepResult,
  type HttpStepRequest,
  type HttpStepResult,
  type StepRunners,
} from '../../ports/step-runners.js';

/**
 * Runbook step runners for real: undici for HTTP (`request` follows no redirects, so a header secret never
 * goes to a host the runbook did not name), child_process.spawn without a shell for commands
 * (argv as given, a timeout that kills, only the allowlisted environment).
 */
export function createStepRunners(): StepRunners {
  return { http: runHttp, command: runCommand };
}

async function runHttp(req: HttpStepRequest): Promise<HttpStepResult> {
  const signal = AbortSignal.timeout(req.timeoutMs);
  let res: Dispatcher.ResponseData;
  try {
    res = await request(req.url, {
      method: req.method as Dispatcher.HttpMethod,
      headers: req.headers,
      ...(req.body !== undefined ? { body: req.body } : {}),
      signal,
      headersTimeout: req.timeoutMs,
      bodyTimeout: req.timeoutMs,
    });
  } catch (err) {
    if (signal.aborted) throw new StepRunError(`no answer within ${req.timeoutMs} ms`);
    throw new StepRunError(`the request could not be made: ${(err as Error).message}`);
  }
  // Read only what is kept (a byte can be at most one character), then stop reading.
  const limit = req.maxChars * 4;
  const chunks: Buffer[] = [];
  let size = 0;
  let truncated = false;
  try {
    for await (const chunk of res.body) {
      const b = chunk as Buffer;
      if (size + b.length > limit) {
        chunks.push(b.subarray(0, limit - size));
        truncated = true;
        break;
      }
      chunks.push(b);
      size += b.length;
    }
  } catch (err) {
    if (signal.aborted) throw new StepRunError(`the answer did not arrive within ${req.timeoutMs} ms (status ${res.statusCode})`);
    throw new StepRunError(`reading the answer failed: ${(err as Error).message}`);
  } finally {
    if (truncated) res.body.destroy();
  }
  let body = Buffer.concat(chunks).toString('utf8');
  if (body.length > req.maxChars) {
    body = body.slice(0, req.maxChars);
    truncated = true;
  }
  return { status: res.statusCode, body, truncated };
}

function runCommand(req: CommandStepRequest): Promise<CommandStepResult> {
  return new Promise((resolve, reject) => {
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(req.argv[0]!, req.argv.slice(1), {
        shell: false,
        cwd: req.cwd,
        env: req.env,
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: req.timeoutMs,
        killSignal: 'SIGKILL',
        windowsHide: true,
      });
    } catch (err) {
      reject(new StepRunError(`the command could not be started: ${(err as Error).message}`));
      return;
    }
    let output = '';
    let truncated = false;
    const take = (chunk: Buffer) => {
      if (truncated) return;
      const text = chunk.toString('utf8');
      if (output.length + text.length > req.maxChars) {
        output += text.slice(0, req.maxChars - output.length);
        truncated = true;
      } else output += text;
    };
    child.stdout!.on('data', take);
    child.stderr!.on('data', take);
    const started = Date.now();
    child.on('error', (err) => reject(new StepRunError(`the command could not be started: ${err.message}`)));
    child.on('close', (code, signal) => {
      const timedOut = signal === 'SIGKILL' && Date.now() - started >= req.timeoutMs - 50;
      resolve({ exitCode: code, signal, timedOut, output, truncated });
    });
  });
}
