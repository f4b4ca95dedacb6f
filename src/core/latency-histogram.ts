/**
 * A log-linear histogram of non-negative durations (ns), in the manner of HdrHistogram: 64 linear sub-buckets per
 * power of two, so any percentile is within 3% of the true value, in constant memory however many samples come.
 */
const SUB_BUCKETS = 64;
const SUB_BITS = 6;
const MAX_EXPONENT = 48;

export class LatencyHistogram {
  private readonly counts = new Float64Array((MAX_EXPONENT + 1) * SUB_BUCKETS);
  count = 0;
  maxNs = 0;
  sumNs = 0;

  record(valueNs: number): void {
    const value = valueNs < 0 ? 0 : valueNs;
    (this.counts as Float64Array)[bucketOf(value)]! += 1;
    this.count++;
    this.sumNs += value;
    if (value > this.maxNs) this.maxNs = value;
  }

  /** The q-quantile (0..1) in ns: the upper edge of the bucket holding it, capped at the max seen. */
  quantileNs(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.ceil(q * this.count);
    let seen = 0;
    for (let bucket = 0; bucket < this.counts.length; bucket++) {
      seen += this.counts[bucket] as number;
      if (seen >= rank && seen > 0) return Math.min(upperEdge(bucket), this.maxNs);
    }
    return this.maxNs;
  }

  get meanNs(): number {
    return this.count === 0 ? 0 : this.sumNs / this.count;
  }
}

function bucketOf(value: number): number {
  if (value < SUB_BUCKETS) return Math.floor(value);
  const exponent = Math.min(MAX_EXPONENT, Math.floor(Math.log2(value)) - SUB_BITS + 1);
  const sub = Math.min(SUB_BUCKETS - 1, Math.floor(value / 2 ** exponent) - SUB_BUCKETS / 2);
  return exponent * SUB_BUCKETS + SUB_BUCKETS / 2 + sub;
}

function upperEdge(bucket: number): number {
  if (bucket < SUB_BUCKETS) return bucket + 1;
  const exponent = Math.floor((bucket - SUB_BUCKETS / 2) / SUB_BUCKETS);
  const sub = bucket - exponent * SUB_BUCKETS - SUB_BUCKETS / 2;
  return (SUB_BUCKETS / 2 + sub + 1) * 2 ** exponent;
}
