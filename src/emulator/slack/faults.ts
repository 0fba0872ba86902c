/**
 * Fault injection: make a method fail, slow down, drop the connection or hang, a given number of
 * times or with a probability. Faults are matched in the order they were injected; `'*'` matches
 * every method. A fault applies before the method runs, so a faulted call never changes state
 * (a "succeeded but the response was lost" case is `drop` or `hang` with `after: true`).
 */
export interface Fault {
  /** HTTP status to answer with (body `{ok:false,error}`); 429 also sends `Retry-After: 1`. */
  status?: number;
  /** Slack error string; with no status it is an HTTP 200 `{ok:false,error}` as Slack sends. */
  error?: string;
  /** Extra delay before answering (or before dropping/failing). */
  latencyMs?: number;
  /** Destroy the socket without answering. */
  drop?: boolean;
  /** Never answer (until the emulator closes). */
  hang?: boolean;
  /**
   * With `drop` or `hang`: run the method first, then drop or never answer, so the state changes
   * but the client never hears (a process killed while it waits is the worst point for a post).
   */
  after?: boolean;
  /** How many calls this fault applies to; default 1; `Infinity` for all. */
  times?: number;
  /** Chance (0..1) that a matching call is faulted; default 1. Misses do not use up `times`. */
  probability?: number;
}

interface ActiveFault extends Fault {
  method: string;
  remaining: number;
}

export class FaultPlan {
  private faults: ActiveFault[] = [];

  constructor(private readonly random: () => number = Math.random) {}

  add(method: string, fault: Fault): void {
    this.faults.push({ ...fault, method, remaining: fault.times ?? 1 });
  }

  /** The fault for this call, if any; uses up one of its `times`. */
  next(method: string): Fault | undefined {
    for (const f of this.faults) {
      if (f.remaining <= 0) continue;
      if (f.method !== '*' && f.method !== method) continue;
      if (f.probability !== undefined && this.random() >= f.probability) continue;
      f.remaining -= 1;
      this.faults = this.faults.filter((x) => x.remaining > 0);
      return f;
    }
    return undefined;
  }

  clear(method?: string): void {
    this.faults = method === undefined ? [] : this.faults.filter((f) => f.method !== method);
  }

  pending(): Array<{ method: string; remaining: number } & Fault> {
    return this.faults.map((f) => ({ ...f }));
  }
}
