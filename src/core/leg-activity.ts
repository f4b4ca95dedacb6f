/** What a drain watches on any recorded leg: requests taken and not yet settled, and when the last came (ms, monotonic). */
export interface LegActivity {
  unsettled(): number;
  readonly lastReceivedMs: number;
}
