/**
 * Job Model.
 * @module models/job/job
 */

import type { Knex } from 'knex';

import { Model } from '@robgietema/nick/src/models/_model/_model';
import { getRootUrl } from '@robgietema/nick/src/helpers/url/url';
import type { Json, Request } from '@robgietema/nick/src/types';

/**
 * A model for Job.
 * @class Job
 * @extends Model
 */
export class Job extends Model {
  // Id column
  static idColumn: string = 'uuid';

  /**
   * Returns JSON data.
   * @method toJson
   * @param {Request} req Request object.
   * @param {Boolean} extend Add the job's own url (@id)
   * @returns {Json} JSON object.
   */
  toJson(req: Request, extend: boolean = false): Json {
    const self: any = this;
    return {
      ...(extend ? { '@id': `${getRootUrl(req)}/@jobs/${self.uuid}` } : {}),
      uuid: self.uuid,
      title: self.title,
      description: self.description,
      params: self.params,
      actor: self.actor,
      created: self.created,
      started: self.started,
      finished: self.finished,
      status: self.status,
      result: self.result,
    } as Json;
  }

  /**
   * Change a job, only if it still has the given status. The update and its
   * check are one statement, so a request and the worker never both move a
   * job out of the same state.
   * @method transition
   * @param {string} from Status the job must have.
   * @param {Object} data Fields to change.
   * @param {Knex.Transaction} trx Transaction object.
   * @returns {Promise<boolean>} True if the job was changed.
   */
  async transition(
    from: string,
    data: any,
    trx?: Knex.Transaction,
  ): Promise<boolean> {
    const self: any = this;
    const changed = await Job.query(trx)
      .patch(data)
      .where({ uuid: self.uuid, status: from });
    if (changed > 0) {
      Object.assign(self, data);
    }
    return changed > 0;
  }
}
