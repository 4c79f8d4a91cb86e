import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const resultsDir = join(dirname(fileURLToPath(import.meta.url)), 'results');

export interface BenchResult {
  benchmark: string;
  metric: string;
  unit: string;
  value: number;
  p50?: number;
  p95?: number;
  samples?: number;
  /** What the value is compared with, measured in the same run: a limit or a peer. */
  reference?: { metric: string; value: number };
  /** value / reference.value. */
  ratio?: number;
}

/** `result` with its reference and the ratio to it. */
export function against(result: BenchResult, metric: string, value: number): BenchResult {
  return { ...result, reference: { metric, value }, ratio: result.value / value };
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

/** Summary of repeated measurements: value is the median. */
export function fromSamples(benchmark: string, metric: string, unit: string, samples: number[]): BenchResult {
  const sorted = [...samples].sort((a, b) => a - b);
  const p50 = percentile(sorted, 50);
  return { benchmark, metric, unit, value: p50, p50, p95: percentile(sorted, 95), samples: samples.length };
}

function commit(): string | undefined {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
}

/** Writes test/bench/results/<benchmark>.json (DESIGN.md §9 shape) and prints a one-line summary. */
export function writeResult(result: BenchResult): void {
  mkdirSync(resultsDir, { recursive: true });
  const record = { ...result, commit: commit(), node: process.version, date: new Date().toISOString() };
  writeFileSync(join(resultsDir, `${result.benchmark}.json`), `${JSON.stringify(record, null, 2)}\n`);
  const spread =
    result.p95 !== undefined
      ? ` (p50 ${round(result.p50)}, p95 ${round(result.p95)}, n=${result.samples})`
      : '';
  const versus = result.reference
    ? `; ${round(result.ratio)}× ${result.reference.metric} (${round(result.reference.value)} ${result.unit})`
    : '';
  console.log(
    `${result.benchmark}: ${result.metric} = ${round(result.value)} ${result.unit}${spread}${versus}`,
  );
}

const round = (n: number | undefined) => (n === undefined ? '' : Number(n.toPrecision(4)));
