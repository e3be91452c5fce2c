export { migrate, type MigrateOptions, type MigrateReport, type FlowDifference, type TracedOutcome } from './compare.js';
export { enumerateFlows, type MigrateFlow, type FlowKind, type FlowSource, type FlowSources, type FlowPlan } from './flows.js';
export { describeOutcome, sameOutcome, type ModeOutcome, type OutcomeBranch } from './outcome.js';
export { DIFFERENCE_RULES, explainDifference, type DifferenceReason } from './reasons.js';
