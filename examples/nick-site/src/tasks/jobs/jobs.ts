/**
 * Jobs worker: moves jobs created -> running -> completed or failed.
 *
 * A job's params may steer the worker (used by tests):
 * params.worker = {
 *   delay: seconds after it was created before it starts (default 5),
 *   duration: seconds it runs (default 10),
 *   outcome: 'completed' or 'failed' (default: failed one time in five),
 * }
 * @module tasks/jobs/jobs
 */

import models from '../../models';
import { log } from '@robgietema/nick/src/helpers/log/log';
import { mapAsync } from '@robgietema/nick/src/helpers/utils/utils';

const defaults = {
  delay: 5,
  duration: 10,
  failureRate: 0.2,
};

const outcomes = ['completed', 'failed'];

/**
 * Worker settings of a job: its params.worker where valid, else the defaults
 * @method getSettings
 * @param {Object} job Job model.
 * @returns {Object} Delay and duration in seconds, outcome.
 */
function getSettings(job: any): {
  delay: number;
  duration: number;
  outcome: string;
} {
  const worker = job.params?.worker || {};
  const seconds = (value: any, fallback: number) =>
    typeof value === 'number' && value >= 0 ? value : fallback;
  return {
    delay: seconds(worker.delay, defaults.delay),
    duration: seconds(worker.duration, defaults.duration),
    outcome: outcomes.includes(worker.outcome)
      ? worker.outcome
      : Math.random() < defaults.failureRate
        ? 'failed'
        : 'completed',
  };
}

/**
 * Start a created job once its delay has passed, and end a running job once
 * its duration has passed.
 * @method work
 * @param {Object} job Job model.
 * @returns {Promise<void>}
 */
async function work(job: any): Promise<void> {
  const { delay, duration, outcome } = getSettings(job);

  // Start
  if (
    job.status === 'created' &&
    Date.now() >= new Date(job.created).getTime() + delay * 1000
  ) {
    await job.transition('created', {
      status: 'running',
      started: new Date().toISOString(),
    });
  }

  // Finish, unless aborted or deleted meanwhile (transition checks the status)
  if (
    job.status === 'running' &&
    Date.now() >= new Date(job.started).getTime() + duration * 1000
  ) {
    await job.transition('running', {
      status: outcome,
      finished: new Date().toISOString(),
      result:
        outcome === 'completed'
          ? { message: 'Job completed.' }
          : { error: 'Job failed.' },
    });
  }
}

export default {
  name: 'jobs',
  schedule: '* * * * * *',
  handler: async () => {
    const Job = models.get('Job');
    try {
      const jobs = await Job.fetchAll(
        { status: ['=', ['created', 'running']] },
        { order: 'created' },
      );
      await mapAsync(
        jobs.map((job: any) => job),
        work,
      );
    } catch (err) {
      log.error(err);
    }
  },
};
