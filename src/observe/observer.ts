/**
 * Something that watches a run while it lasts (a tap in front of a backend, a live capture, the relay's self-report):
 * started for a run, stopped by the run session, in reverse order of starting, also when the run fails. `stop`
 * resolves once everything it saw has been handed to its sink.
 */
export interface Observer {
  /** For the session's log, when stopping it fails: `tap:primary:5000`, `live:lo`, `relay poller`. */
  readonly name: string;
  stop(): Promise<void>;
}
