/**
 * Site models: registered in Nick's model registry, next to its own.
 * @module models
 */

import models from '@robgietema/nick/src/models';

import { Job } from './job/job';

models.register('Job', () => Job);

export default models;
