/**
 * Every check `canary doctor` runs, in the order they run and print (./checks.ts runs them). A feature that needs
 * something of Temporal or AWS before a release adds its check here: one entry, written in a module next to this one.
 */
import { awsChecks } from './aws';
import type { DoctorCheck } from './checks';
import { hookChecks } from './hooks';
import { sourceChecks } from './sources';
import { temporalChecks } from './temporal';

export const DOCTOR_CHECKS: readonly DoctorCheck[] = [...temporalChecks, ...awsChecks, ...sourceChecks, ...hookChecks];
