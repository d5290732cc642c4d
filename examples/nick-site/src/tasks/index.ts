/**
 * Site scheduled tasks: Nick runs them next to its own (config.settings.tasks).
 * @module tasks
 */

import jobs from './jobs/jobs';

export default [jobs];
