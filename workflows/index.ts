// Workflow entry point: every workflow the worker registers is exported here.
export { release } from './release';
export type { ReleaseInput } from '../common/messages';
