// Workflow entry point: every workflow the worker registers is exported here.
export {};
