import { Component, lazy, Suspense, type ReactNode } from "react";
import type { Bucket, TrendPoint } from "./ChartsImpl";
import { formatDate, formatInt, formatScore } from "../lib/format";
import { Empty, Loading } from "./States";

const TrendChartImpl = lazy(() => import("./ChartsImpl"));
const DistributionChartImpl = lazy(() => import("./ChartsImpl").then((m) => ({ default: m.DistributionChartImpl })));

class ChartBoundary extends Component<{ children: ReactNode; fallback: ReactNode }, { failed: boolean }> {
  state = { failed: false };
  static getDerivedStateFromError() {
    return { failed: true };
  }
  render() {
    return this.state.failed ? this.props.fallback : this.props.children;
  }
}

/** Health and churn risk at each month-end; the same numbers as a table for screen readers and keyboard users. */
export function TrendChart({ points }: { points: TrendPoint[] }) {
  if (points.length === 0) return <Empty title="No history yet">Metric history appears after the first month-end run.</Empty>;
  const table = (
    <table className="data-table compact">
      <caption className="sr-only">Health and churn risk by month-end</caption>
      <thead>
        <tr>
          <th scope="col">As of</th>
          <th scope="col">Health</th>
          <th scope="col">Churn risk</th>
        </tr>
      </thead>
      <tbody>
        {points.map((p) => (
          <tr key={p.asOf}>
            <td>{formatDate(p.asOf)}</td>
            <td className="num">{formatScore(p.healthScore)}</td>
            <td className="num">{formatScore(p.churnRisk)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
  return (
    <div className="chart" data-testid="trend-chart">
      <div aria-hidden="true" className="chart-canvas">
        <ChartBoundary fallback={table}>
          <Suspense fallback={<Loading label="Drawing the chart…" rows={1} />}>
            <TrendChartImpl points={points} />
          </Suspense>
        </ChartBoundary>
      </div>
      <details className="chart-table">
        <summary>Show the numbers ({points.length} month-ends)</summary>
        {table}
      </details>
    </div>
  );
}

/** Counts per category as horizontal bars, with the counts also in a visually hidden list. */
export function DistributionChart({ buckets, name, testId }: { buckets: Bucket[]; name: string; testId: string }) {
  const total = buckets.reduce((s, b) => s + b.count, 0);
  return (
    <div className="chart" data-testid={testId}>
      <div aria-hidden="true" className="chart-canvas">
        <ChartBoundary fallback={null}>
          <Suspense fallback={<Loading label="Drawing the chart…" rows={1} />}>
            <DistributionChartImpl buckets={buckets} name={name} />
          </Suspense>
        </ChartBoundary>
      </div>
      <ul className="legend-list">
        {buckets.map((b) => (
          <li key={b.label} data-label={b.label}>
            <span className="swatch" style={{ background: b.color }} aria-hidden="true" />
            {b.label}: <strong>{formatInt(b.count)}</strong>
            {total ? <span className="muted"> ({Math.round((b.count / total) * 100)}%)</span> : null}
          </li>
        ))}
      </ul>
    </div>
  );
}
