/**
 * Jobs routes.
 * @module routes/jobs/jobs
 */

import { validate } from 'uuid';
import type { Knex } from 'knex';

import models from '../../models';
import { RequestException } from '@robgietema/nick/src/helpers/error/error';
import { apiLimiter } from '@robgietema/nick/src/helpers/limiter/limiter';
import type { Request } from '@robgietema/nick/src/types';

/**
 * Fetch the job of the request, or throw a not found
 * @method fetchJob
 * @param {Request} req Request object.
 * @param {Knex.Transaction} trx Transaction object.
 * @returns {Promise<any>} Job model.
 */
async function fetchJob(req: Request, trx: Knex.Transaction): Promise<any> {
  const Job = models.get('Job');

  // An id that is not a uuid is a job that does not exist (the column is a uuid)
  const job = validate(req.params.id)
    ? await Job.fetchById(req.params.id, {}, trx)
    : undefined;
  if (!job) {
    throw new RequestException(404, { error: req.i18n('Not found.') });
  }
  return job;
}

export default [
  {
    op: 'get',
    view: '/@jobs/:id',
    permission: 'Manage Jobs',
    client: 'getJob',
    cache: 'manage',
    handler: async (req: Request, trx: Knex.Transaction) => {
      const job = await fetchJob(req, trx);
      return {
        json: job.toJson(req, true),
        xkeys: [job.uuid],
      };
    },
  },
  {
    op: 'get',
    view: '/@jobs',
    permission: 'Manage Jobs',
    client: 'getJobs',
    cache: 'manage',
    middleware: apiLimiter,
    handler: async (req: Request, trx: Knex.Transaction) => {
      const Job = models.get('Job');
      const jobs = await Job.fetchAll({}, { order: ['created', 'uuid'] }, trx);
      return {
        json: await jobs.toJson(req),
        xkeys: ['jobs'],
      };
    },
  },
  {
    op: 'delete',
    view: '/@jobs/:id',
    permission: 'Manage Jobs',
    client: 'deleteJob',
    cache: 'alter',
    handler: async (req: Request, trx: Knex.Transaction) => {
      const Job = models.get('Job');
      const job = await fetchJob(req, trx);

      // The worker finds a deleted job gone, so a running job's work stops
      await Job.deleteById(job.uuid, trx);

      return {
        status: 204,
      };
    },
  },
  {
    op: 'post',
    view: '/@jobs/:id/abort',
    permission: 'Manage Jobs',
    client: 'abortJob',
    cache: 'alter',
    handler: async (req: Request, trx: Knex.Transaction) => {
      const job = await fetchJob(req, trx);

      // Only if still running: the worker may have ended it meanwhile
      if (
        job.status === 'running' &&
        (await job.transition(
          'running',
          { status: 'aborted', finished: new Date().toISOString() },
          trx,
        ))
      ) {
        return {
          status: 204,
        };
      }

      const current = await fetchJob(req, trx);
      throw new RequestException(400, {
        error: req.i18n(
          'Job {id} is {state}; only a running job can be aborted.',
          { id: current.uuid, state: current.status },
        ),
      });
    },
  },
  {
    op: 'post',
    view: '/@jobs/:id/retry',
    permission: 'Manage Jobs',
    client: 'retryJob',
    cache: 'alter',
    handler: async (req: Request, trx: Knex.Transaction) => {
      const job = await fetchJob(req, trx);

      // Queue it again: the worker starts it as a new one
      if (
        job.status === 'failed' &&
        (await job.transition(
          'failed',
          { status: 'created', started: null, finished: null, result: {} },
          trx,
        ))
      ) {
        return {
          status: 204,
        };
      }

      const current = await fetchJob(req, trx);
      throw new RequestException(400, {
        error: req.i18n(
          'Job {id} is {state}; only a failed job can be retried.',
          { id: current.uuid, state: current.status },
        ),
      });
    },
  },
];
