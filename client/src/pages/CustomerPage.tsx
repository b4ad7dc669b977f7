import { useEffect } from "react";
import { useQuery } from "@apollo/client";
import { Link, useParams } from "react-router";
import { Building2, Factory, Globe2, UserRound } from "lucide-react";
import { CustomerActionsDocument, CustomerNameDocument, CustomerProfileDocument } from "../generated/graphql";
import { CHURN_LEVEL, HEALTH_CATEGORY, formatDate } from "../lib/format";
import { metricCards } from "../lib/metrics";
import { MetricCard } from "../components/MetricCard";
import { ScoreBreakdown } from "../components/ScoreBreakdown";
import { TrendChart } from "../components/Charts";
import { Timeline } from "../components/Timeline";
import { Empty, ErrorState, Loading } from "../components/States";
import { ToneBadge } from "../components/ToneBadge";
import { AlertsList } from "../components/AlertsList";
import { RecommendationsList } from "../components/RecommendationsList";
import { LinkedAccounts } from "../components/LinkedAccounts";
import { useCustomerLive } from "../lib/live";

/** Alerts and recommendations side by side: what to look at and what to do. */
function ActNow({ customerId }: { customerId: string }) {
  const { data, error, refetch } = useQuery(CustomerActionsDocument, { variables: { id: customerId } });
  const c = data?.customer;
  const openAlerts = c?.alerts.filter((a) => a.status === "OPEN").length;
  const openRecs = c?.recommendations.filter((r) => r.status === "OPEN").length;
  return (
    <div className="two-col">
      <section className="panel" aria-labelledby="recs-title" data-testid="recommendations">
        <header className="panel-head">
          <h2 id="recs-title">Recommended actions</h2>
          {c ? <span className="muted">{openRecs} open, highest priority first</span> : null}
        </header>
        {c ? <RecommendationsList recommendations={c.recommendations} /> : error ? <ErrorState error={error} onRetry={() => void refetch()} /> : <Loading label="Loading recommendations…" />}
      </section>
      <section className="panel" aria-labelledby="alerts-title" data-testid="alerts">
        <header className="panel-head">
          <h2 id="alerts-title">Alerts</h2>
          {c ? <span className="muted">{openAlerts} open, most severe first</span> : null}
        </header>
        {c ? <AlertsList alerts={c.alerts} /> : error ? <ErrorState error={error} onRetry={() => void refetch()} /> : <Loading label="Loading alerts…" />}
      </section>
    </div>
  );
}

function ParentLink({ id }: { id: string }) {
  const { data } = useQuery(CustomerNameDocument, { variables: { id } });
  return <Link to={`/customers/${encodeURIComponent(id)}`}>{data?.customer?.name ?? id}</Link>;
}

export function CustomerPage() {
  const { id = "" } = useParams();
  const { data, loading, error, refetch } = useQuery(CustomerProfileDocument, { variables: { id } });
  const c = data?.customer;
  useCustomerLive(id); // changes by others (and new snapshots) show without a reload

  useEffect(() => {
    document.title = c?.name ? `${c.name} — Customer 360` : "Customer — Customer 360";
  }, [c?.name]);

  if (!c) {
    if (error) return <ErrorState error={error} onRetry={() => void refetch()} />;
    if (loading || !data) return <Loading label="Loading the customer…" rows={6} />;
    return (
      <Empty title="No such customer">
        No customer has the id <code>{id}</code> in the published snapshot. <Link to="/customers">Browse customers</Link>
      </Empty>
    );
  }

  const health = c.healthCategory ? HEALTH_CATEGORY[c.healthCategory] : null;
  const churn = c.churnLevel ? CHURN_LEVEL[c.churnLevel] : null;
  const points = c.metricHistory.map((m) => ({ asOf: m.asOf, healthScore: m.healthScore, churnRisk: m.churnRisk }));

  return (
    <article className="profile" aria-labelledby="customer-name">
      <header className="profile-head">
        <div>
          <p className="crumbs">
            <Link to="/customers">Customers</Link> / <span className="mono">{c.id}</span>
          </p>
          <h1 id="customer-name">{c.name ?? c.id}</h1>
          <ul className="facts-inline" aria-label="Account">
            <li>
              <Globe2 size={15} aria-hidden="true" /> <span className="sr-only">Region: </span>
              {[c.region, c.country].filter(Boolean).join(" · ") || "No region"}
            </li>
            {c.industry ? (
              <li>
                <Factory size={15} aria-hidden="true" /> <span className="sr-only">Industry: </span>
                {c.industry}
              </li>
            ) : null}
            <li>
              <UserRound size={15} aria-hidden="true" /> Owner: {c.owner ?? "unassigned"}
            </li>
            {c.parentId ? (
              <li>
                <Building2 size={15} aria-hidden="true" /> Parent: <ParentLink id={c.parentId} />
              </li>
            ) : null}
          </ul>
          <LinkedAccounts customerId={c.id} />
        </div>
        <div className="profile-badges">
          {health ? <ToneBadge tone={health.tone} label={health.label} /> : null}
          {churn ? <ToneBadge tone={churn.tone} label={churn.label} /> : null}
          <p className="muted small">
            Data as of <time dateTime={c.asOf.date}>{formatDate(c.asOf.date)}</time>
            <br />
            <span className="mono" title="Pipeline run">
              run {c.asOf.runId}
            </span>
          </p>
        </div>
      </header>

      {error ? <ErrorState error={error} compact onRetry={() => void refetch()} /> : null}

      <section aria-label="Key metrics" className="metric-grid">
        {metricCards(c).map((m) => (
          <MetricCard key={m.id} {...m} asOf={c.asOf.date} />
        ))}
      </section>

      <ActNow customerId={c.id} />

      <div className="two-col">
        <ScoreBreakdown id="health-breakdown" title="Why this health score" breakdown={c.healthBreakdown} polarity="health" level={health} />
        <ScoreBreakdown id="churn-breakdown" title="Why this churn risk" breakdown={c.churnBreakdown} polarity="churn" level={churn} />
      </div>

      <section className="panel" aria-labelledby="trend-title">
        <header className="panel-head">
          <h2 id="trend-title">Health and churn trend</h2>
          <span className="muted">month-ends from the metric history</span>
        </header>
        <TrendChart points={points} />
      </section>

      <Timeline customerId={c.id} />
    </article>
  );
}
