// The metric cards of the 360 profile, computed from one CustomerProfile answer (pure, unit-tested).
import type { CustomerProfileQuery } from "../generated/graphql";
import { CHURN_LEVEL, HEALTH_CATEGORY, change, formatDate, formatInt, formatPercent, formatScore, formatUsd, type Tone } from "./format";

export type Profile = NonNullable<CustomerProfileQuery["customer"]>;
type HistoryKey = "mrrUsd" | "arrUsd" | "clvUsd" | "activeServices";

export interface MetricCardData {
  id: string;
  label: string;
  value: string;
  tone: Tone;
  status: string;
  hint: string;
}

/** Up, down or flat against the oldest month-end in the metric history, in words. */
function trend(p: Profile, key: HistoryKey, current: number | null): { tone: Tone; status: string } {
  const first = p.metricHistory.find((m) => m[key] != null && m.asOf < p.asOf.date);
  if (current == null) return { tone: "neutral", status: "No data" };
  if (!first) return { tone: "neutral", status: "No earlier month-end" };
  const since = formatDate(first.asOf);
  const before = first[key] as number;
  if (before === current) return { tone: "neutral", status: `Unchanged since ${since}` };
  const c = change(before, current);
  const by = c == null ? "" : ` ${formatPercent(Math.abs(c))}`;
  return current > before ? { tone: "good", status: `Up${by} since ${since}` } : { tone: "bad", status: `Down${by} since ${since}` };
}

export function metricCards(p: Profile): MetricCardData[] {
  const health = p.healthCategory ? HEALTH_CATEGORY[p.healthCategory] : null;
  const churn = p.churnLevel ? CHURN_LEVEL[p.churnLevel] : null;
  const yoy: { tone: Tone; status: string } =
    p.yoyGrowth == null
      ? { tone: "neutral", status: "No revenue in the year before" }
      : p.yoyGrowth > 0
        ? { tone: "good", status: "Growing" }
        : p.yoyGrowth < 0
          ? { tone: "bad", status: "Shrinking" }
          : { tone: "neutral", status: "Flat" };
  return [
    { id: "health", label: "Health", value: formatScore(p.healthScore), tone: health?.tone ?? "neutral", status: health?.label ?? "No score", hint: "0–100 from payment, support, usage and engagement" },
    { id: "churn", label: "Churn risk", value: formatScore(p.churnRisk), tone: churn?.tone ?? "neutral", status: churn?.label ?? "No score", hint: "0–100 from usage decline, payment, support and engagement" },
    { id: "clv", label: "Customer lifetime value", value: formatUsd(p.clvUsd), ...trend(p, "clvUsd", p.clvUsd), hint: "ARR × gross margin × expected lifetime" },
    { id: "mrr", label: "MRR", value: formatUsd(p.mrrUsd), ...trend(p, "mrrUsd", p.mrrUsd), hint: "Monthly recurring revenue from active won lines" },
    { id: "arr", label: "ARR", value: formatUsd(p.arrUsd), ...trend(p, "arrUsd", p.arrUsd), hint: "12 × MRR" },
    { id: "annual-revenue", label: "Annual revenue", value: formatUsd(p.annualRevenueUsd), tone: "neutral", status: "Won in the last 12 months", hint: "USD won in the 12 months to the as-of date" },
    { id: "yoy", label: "YoY growth", value: formatPercent(p.yoyGrowth, { signed: true }), ...yoy, hint: "Annual revenue against the 12 months before" },
    {
      id: "win-rate",
      label: "Win rate",
      value: formatPercent(p.winRate, { digits: 0 }),
      tone: "neutral",
      status: p.winRate == null ? "No deals closed" : "Won ÷ (won + lost)",
      hint: "Opportunities closed in the last 24 months",
    },
    { id: "services", label: "Active services", value: formatInt(p.activeServices), ...trend(p, "activeServices", p.activeServices), hint: "Products on active won lines" },
  ];
}
