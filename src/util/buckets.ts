// Histogram bucket series as client_golang builds them, so a family that mirrors an upstream one
// can state upstream's buckets in upstream's terms.

/** prometheus.ExponentialBuckets. */
export const exponentialBuckets = (start: number, factor: number, count: number): number[] =>
  Array.from({ length: count }, (_, i) => start * factor ** i);

/** Ours (oxide_*): latencies from 5 ms to a minute, for reconciles and Oxide requests alike. */
export const secondsBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
