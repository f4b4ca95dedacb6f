import { sqlStep, type AnalysisStep } from '../analysis-steps.ts';

const step = (file: string): AnalysisStep => sqlStep(import.meta.url, file);

/** The HTTP family's SQL steps, in the order they run (each declares what it reads and writes, as the UDP steps do). */
export const HTTP_ANALYSIS_STEPS = {
  legs: step('01-http-legs.sql'),
  headerParity: step('02-header-parity.sql'),
  backendMetrics: step('03-backend-metrics.sql'),
  headerDifferences: step('04-header-differences.sql'),
  clientMetrics: step('05-client-metrics.sql'),
  answerPairs: step('06-answer-pairs.sql'),
} as const;

/** Tables an HTTP analysis keeps in the store; a re-analysis replaces a run's rows in them. */
export const HTTP_DERIVED_TABLES = ['route_metrics', 'http_field_parity'] as const;
