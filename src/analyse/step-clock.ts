/** How long one step of an analysis took. */
export interface StepTiming {
  step: string;
  seconds: number;
}

/** Told as each step of an analysis starts and ends: `parity analyse`'s progress line, the bench's breakdown. */
export interface AnalysisProgress {
  stepStarted?(step: string): void;
  stepFinished?(timing: StepTiming): void;
}

/**
 * Times the steps of one analysis. A step is named after its SQL file (`05-backend-legs`) or what it does in
 * TypeScript (`compare backend ACKs`), so a slow analysis says where its time went.
 */
export class StepClock {
  readonly timings: StepTiming[] = [];

  constructor(private readonly progress: AnalysisProgress = {}) {}

  async time<T>(step: string, work: () => Promise<T>): Promise<T> {
    this.progress.stepStarted?.(step);
    const started = process.hrtime.bigint();
    const result = await work();
    const timing = { step, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
    this.timings.push(timing);
    this.progress.stepFinished?.(timing);
    return result;
  }
}

/** The step name of a SQL file: `05-backend-legs.sql` -> `05-backend-legs`. */
export function stepName(file: string): string {
  return file.replace(/\.sql$/, '');
}
