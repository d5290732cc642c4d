/**
 * Site routes: Nick adds them before its own (config.settings.routes).
 * @module routes
 */

import jobs from './jobs/jobs';

export default [...jobs];
