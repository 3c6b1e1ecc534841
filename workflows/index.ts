// Workflow entry point: every workflow the worker registers is exported here.
export { release } from './release/runbook';
export type { ReleaseInput } from '../common/messages';
