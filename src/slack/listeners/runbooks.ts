import type { App } from '@slack/bolt';
import { z } from 'zod';
import type { FeedbackAnswer } from '../../domain/runbook-run.js';
import type { Deps } from '../../services/deps.js';
import { answerFeedback, cancelRun, confirmCheck, retryStep, skipStep, startRunbook } from '../../services/runbooks.js';
import { Actions, anyNumbered } from '../ids.js';
import { onButton } from './answers.js';

/**
 * Runbook buttons: start (the card's offer), confirm a check, retry, skip, cancel, and the
 * post-resolve feedback. Each acks at once and calls one service with ids from the button value
 * and the signed user; who may do what is decided by the service from the store.
 */
const Id = z.string().min(1).max(100);
const StepRef = z
  .string()
  .regex(/^\S{1,100} \d{1,3}$/)
  .transform((v) => {
    const [runId, index] = v.split(' ');
    return { runId: runId!, index: Number(index) };
  });
const StartRef = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{1,63} \S{1,100}$/)
  .transform((v) => {
    const [runbookId, incidentId] = v.split(' ');
    return { runbookId: runbookId!, incidentId: incidentId! };
  });

export function registerRunbookListeners(app: App, deps: Deps): void {
  onButton(app, deps, anyNumbered(Actions.runbookStart), async (value, body, tell) => {
    const { runbookId, incidentId } = StartRef.parse(value);
    const { created } = await startRunbook(deps, { incidentId, runbookId, startedBy: body.user.id });
    if (!created) await tell('That runbook was just started.');
  });
  onButton(app, deps, anyNumbered(Actions.runbookCheck), async (value, body, tell) => {
    await tell(await confirmCheck(deps, { ...StepRef.parse(value), userId: body.user.id }));
  });
  onButton(app, deps, anyNumbered(Actions.runbookRetry), async (value, body, tell) => {
    await tell(await retryStep(deps, { ...StepRef.parse(value), userId: body.user.id }));
  });
  onButton(app, deps, anyNumbered(Actions.runbookSkip), async (value, body, tell) => {
    await tell(await skipStep(deps, { ...StepRef.parse(value), userId: body.user.id }));
  });
  onButton(app, deps, Actions.runbookCancel, async (value, body, tell) => {
    await tell(await cancelRun(deps, { runId: Id.parse(value), userId: body.user.id }));
  });
  const feedback = (actionId: string, answer: FeedbackAnswer) =>
    onButton(app, deps, actionId, async (value, body, tell) => {
      await tell(await answerFeedback(deps, { ...StepRef.parse(value), userId: body.user.id, answer }));
    });
  feedback(Actions.runbookFeedbackYes, 'yes');
  feedback(Actions.runbookFeedbackNo, 'no');
  feedback(Actions.runbookFeedbackUnsure, 'unsure');
}
