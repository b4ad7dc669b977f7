import { useEffect } from "react";
import { useQuery } from "@apollo/client";
import { Link } from "react-router";
import { DashboardSummaryDocument } from "../generated/graphql";
import { CHURN_LEVEL, SEVERITY, churnLabelTone, formatDate, formatInt, formatScore, formatUsd, formatUsdCompact, healthLabelTone, HEALTH_CATEGORY, type Tone } from "../lib/format";
import { DistributionChart } from "../components/Charts";
import { Empty, ErrorState, Loading } from "../components/States";
import { ToneBadge } from "../components/ToneBadge";
import { useAlertsLive } from "../lib/live";

export const TONE_COLOR: Record<Tone, string> = { good: "#16a34a", warn: "#ea580c", bad: "#dc2626", neutral: "#94a3b8" };

function bySeverity(counts: readonly { label: string; count: number }[]) {
  return counts.map((b) => {
    const sev = SEVERITY[b.label as keyof typeof SEVERITY];
    return { label: sev?.label ?? b.label, count: b.count, color: TONE_COLOR[sev?.tone ?? "neutral"] };
  });
}

function Tile({ id, label, value, sub }: { id: string; label: string; value: string; sub?: string }) {
  return (
    <section className="tile" aria-labelledby={`tile-${id}`} data-testid={`summary-${id}`}>
      <h2 id={`tile-${id}`} className="metric-label">
        {label}
      </h2>
      <div className="metric-value" data-testid={`summary-${id}-value`}>
        {value}
      </div>
      {sub ? <p className="metric-hint">{sub}</p> : null}
    </section>
  );
}

export function DashboardPage() {
  const { data, loading, error, refetch } = useQuery(DashboardSummaryDocument, { variables: { top: 10 } });
  useAlertsLive(() => void refetch().catch(() => undefined)); // open alerts by severity stay current
  useEffect(() => {
    document.title = "Executive dashboard — Customer 360";
  }, []);
  const s = data?.dashboardSummary;
  if (!s) {
    if (error) return <ErrorState error={error} onRetry={() => void refetch()} />;
    return <Loading label={loading ? "Loading the dashboard…" : "Waiting for data…"} rows={6} />;
  }

  const health = s.byHealthCategory.filter((b) => b.label !== "none" || b.count > 0).map((b) => {
    const t = healthLabelTone(b.label);
    return { label: t.label, count: b.count, color: TONE_COLOR[t.tone] };
  });
  const churn = s.byChurnLevel.filter((b) => b.label !== "none" || b.count > 0).map((b) => {
    const t = churnLabelTone(b.label);
    return { label: t.label, count: b.count, color: TONE_COLOR[t.tone] };
  });
  const highCount = s.byChurnLevel.find((b) => b.label === "HIGH")?.count;
  const share = s.totalArrUsd ? s.arrAtRiskUsd / s.totalArrUsd : null;

  return (
    <div className="dashboard">
      <header className="page-head">
        <h1>Executive dashboard</h1>
        <p className="muted">
          The whole book as of <time dateTime={s.asOf.date}>{formatDate(s.asOf.date)}</time> · run <span className="mono">{s.asOf.runId}</span>
        </p>
      </header>
      {error ? <ErrorState error={error} compact onRetry={() => void refetch()} /> : null}

      <div className="tile-grid">
        <Tile id="customers" label="Customers" value={formatInt(s.customers)} />
        <Tile id="mrr" label="Total MRR" value={formatUsdCompact(s.totalMrrUsd)} sub={formatUsd(s.totalMrrUsd)} />
        <Tile id="arr" label="Total ARR" value={formatUsdCompact(s.totalArrUsd)} sub={formatUsd(s.totalArrUsd)} />
        <Tile id="health" label="Average health" value={formatScore(s.averageHealth)} sub="mean over customers with a score, 0–100" />
        <section className="tile tile-risk" aria-labelledby="tile-risk" data-testid="summary-arr-at-risk">
          <h2 id="tile-risk" className="metric-label">
            ARR at risk
          </h2>
          <div className="metric-value" data-testid="summary-arr-at-risk-value">
            {formatUsdCompact(s.arrAtRiskUsd)}
          </div>
          <ToneBadge tone={s.arrAtRiskUsd > 0 ? "bad" : "good"} label={s.arrAtRiskUsd > 0 ? "High churn risk" : "None at high risk"} />
          <p className="metric-hint">
            {formatUsd(s.arrAtRiskUsd)}
            {share != null ? ` — ${(share * 100).toFixed(1)}% of ARR` : ""}
            {highCount != null ? `, ${formatInt(highCount)} customers` : ""}
          </p>
        </section>
      </div>

      <div className="two-col">
        <section className="panel" aria-labelledby="dist-health">
          <header className="panel-head">
            <h2 id="dist-health">Health categories</h2>
          </header>
          <DistributionChart buckets={health} name="Customers" testId="health-distribution" />
        </section>
        <section className="panel" aria-labelledby="dist-churn">
          <header className="panel-head">
            <h2 id="dist-churn">Churn risk levels</h2>
          </header>
          <DistributionChart buckets={churn} name="Customers" testId="churn-distribution" />
        </section>
      </div>

      {s.alertsAvailable || s.recommendationsAvailable ? (
        <div className="two-col">
          {s.alertsAvailable ? (
            <section className="panel" aria-labelledby="open-alerts">
              <header className="panel-head">
                <h2 id="open-alerts">Open alerts by severity</h2>
                <span className="muted">{formatInt(s.openAlertsBySeverity.reduce((n, b) => n + b.count, 0))} open</span>
              </header>
              <DistributionChart buckets={bySeverity(s.openAlertsBySeverity)} name="Open alerts" testId="alerts-by-severity" />
            </section>
          ) : null}
          {s.recommendationsAvailable ? (
            <section className="panel" aria-labelledby="open-recs">
              <header className="panel-head">
                <h2 id="open-recs">Open recommendations by priority</h2>
                <span className="muted">{formatInt(s.openRecommendationsByPriority.reduce((n, b) => n + b.count, 0))} open</span>
              </header>
              <DistributionChart buckets={bySeverity(s.openRecommendationsByPriority)} name="Open recommendations" testId="recs-by-priority" />
            </section>
          ) : null}
        </div>
      ) : null}

      <section className="panel" aria-labelledby="top-risk">
        <header className="panel-head">
          <h2 id="top-risk">Top accounts at risk</h2>
          <span className="muted">high and medium churn risk, largest ARR first</span>
        </header>
        {s.topAtRisk.length === 0 ? (
          <Empty title="No account at high or medium churn risk" />
        ) : (
          <div className="table-wrap">
            <table className="data-table" data-testid="top-at-risk">
              <thead>
                <tr>
                  <th scope="col">Customer</th>
                  <th scope="col">Region</th>
                  <th scope="col">Owner</th>
                  <th scope="col" className="num">
                    ARR
                  </th>
                  <th scope="col">Churn risk</th>
                  <th scope="col">Health</th>
                </tr>
              </thead>
              <tbody>
                {s.topAtRisk.map((c) => {
                  const ch = c.churnLevel ? CHURN_LEVEL[c.churnLevel] : null;
                  const h = c.healthCategory ? HEALTH_CATEGORY[c.healthCategory] : null;
                  return (
                    <tr key={c.id}>
                      <th scope="row">
                        <Link to={`/customers/${encodeURIComponent(c.id)}`}>{c.name ?? c.id}</Link>
                      </th>
                      <td>{c.region ?? "—"}</td>
                      <td>{c.owner ?? "—"}</td>
                      <td className="num">{formatUsd(c.arrUsd)}</td>
                      <td>
                        <span className="score">{formatScore(c.churnRisk)}</span> {ch ? <ToneBadge tone={ch.tone} label={ch.label.replace(" churn risk", "")} /> : null}
                      </td>
                      <td>
                        <span className="score">{formatScore(c.healthScore)}</span> {h ? <ToneBadge tone={h.tone} label={h.label} /> : null}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </div>
  );
}
