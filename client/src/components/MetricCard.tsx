import type { ReactNode } from "react";
import type { Tone } from "../lib/format";
import { formatDate } from "../lib/format";
import { ToneBadge } from "./ToneBadge";

export interface MetricCardProps {
  id: string;
  label: string;
  value: string;
  tone: Tone;
  /** The tone in words ("Healthy", "Up 4.1% since 30 Apr 2026"). */
  status: string;
  asOf: string | null;
  hint?: ReactNode;
}

/** One figure: its value, what the colour means in words, how it is computed, and as of when. */
export function MetricCard({ id, label, value, tone, status, asOf, hint }: MetricCardProps) {
  const labelId = `metric-${id}-label`;
  return (
    <section className={`metric-card tone-border-${tone}`} aria-labelledby={labelId} data-testid={`metric-${id}`}>
      <h3 id={labelId} className="metric-label">
        {label}
      </h3>
      <div className="metric-value" data-testid={`metric-${id}-value`}>
        {value}
      </div>
      <ToneBadge tone={tone} label={status} />
      {hint ? <p className="metric-hint">{hint}</p> : null}
      <p className="metric-asof">as of {asOf ? <time dateTime={asOf}>{formatDate(asOf)}</time> : "—"}</p>
    </section>
  );
}
