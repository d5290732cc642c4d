/**
 * Point of contact for events.
 * @module events
 * @example import events from './events';
 */

import events from '@robgietema/nick/src/events';

export default events;
