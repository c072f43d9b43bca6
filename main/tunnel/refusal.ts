/** Moved to node/refusal.ts (the wire format of a refusal lives in one place); kept until every importer uses it. */
export { refusalError } from '../../node/refusal.js';
