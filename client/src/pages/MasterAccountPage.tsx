import { useEffect } from "react";
import { useQuery } from "@apollo/client";
import { Link, useParams } from "react-router";
import { MasterAccountDocument } from "../generated/graphql";
import { CHURN_LEVEL, HEALTH_CATEGORY, churnLabelTone, formatDate, formatDateTime, formatInt, formatScore, formatUsd, humanize } from "../lib/format";
import { LinkEvidence } from "../components/LinkedAccounts";
import { Empty, ErrorState, Loading } from "../components/States";
import { ToneBadge } from "../components/ToneBadge";

/** One real company: roll-ups over its regional accounts, the members, and the links with their evidence. */
export function MasterAccountPage() {
  const { id = "" } = useParams();
  const { data, loading, error, refetch } = useQuery(MasterAccountDocument, { variables: { id } });
  const m = data?.masterAccount;
  useEffect(() => {
    document.title = `Company ${id} — Customer 360`;
  }, [id]);
  if (!m) {
    if (error) return <ErrorState error={error} onRetry={() => void refetch()} />;
    if (loading || !data) return <Loading label="Loading the company…" rows={6} />;
    return <Empty title="No such company">No master account has the id <code>{id}</code>.</Empty>;
  }
  const r = m.rollup;
  const names = new Map(m.members.map((c) => [c.id, c.name ?? c.id]));
  const worst = r?.worstChurnLevel ? churnLabelTone(r.worstChurnLevel) : null;
  const largest = [...m.members].sort((a, b) => (b.arrUsd ?? 0) - (a.arrUsd ?? 0))[0];

  return (
    <div className="master">
      <header className="page-head">
        <div>
          <p className="crumbs">Company (master account)</p>
          <h1>{largest?.name ?? m.id}</h1>
          <p className="muted">
            <span className="mono">{m.id}</span> · {formatInt(m.size)} regional accounts · as of {formatDate(m.asOf.date)}
          </p>
        </div>
        {m.needsReview ? <ToneBadge tone="warn" label="Flagged for review" /> : <ToneBadge tone="good" label="Links accepted" />}
      </header>

      {r ? (
        <div className="tile-grid" data-testid="rollup">
          <section className="tile" data-testid="rollup-arr">
            <h2 className="metric-label">Total ARR</h2>
            <div className="metric-value">{formatUsd(r.totalArrUsd)}</div>
            <p className="metric-hint">over {formatInt(r.accountsWithMetrics)} of {formatInt(r.memberAccounts)} accounts with metrics</p>
          </section>
          <section className="tile">
            <h2 className="metric-label">Total MRR</h2>
            <div className="metric-value">{formatUsd(r.totalMrrUsd)}</div>
          </section>
          <section className="tile">
            <h2 className="metric-label">Health (ARR-weighted)</h2>
            <div className="metric-value">{formatScore(r.arrWeightedHealthScore)}</div>
          </section>
          <section className="tile">
            <h2 className="metric-label">Worst churn risk</h2>
            <div className="metric-value">{worst ? worst.label : "—"}</div>
            {worst ? <ToneBadge tone={worst.tone} label={`${formatInt(r.highRiskAccounts)} at high risk`} /> : null}
          </section>
          <section className="tile">
            <h2 className="metric-label">Earliest contract end</h2>
            <div className="metric-value small-value">{formatDate(r.earliestContractEndDate)}</div>
          </section>
        </div>
      ) : null}

      <section className="panel" aria-labelledby="members-title">
        <header className="panel-head">
          <h2 id="members-title">Regional accounts</h2>
        </header>
        <div className="table-wrap">
          <table className="data-table" data-testid="members">
            <thead>
              <tr>
                <th scope="col">Account</th>
                <th scope="col">Region</th>
                <th scope="col">Owner</th>
                <th scope="col" className="num">ARR</th>
                <th scope="col">Health</th>
                <th scope="col">Churn risk</th>
              </tr>
            </thead>
            <tbody>
              {m.members.map((c) => {
                const h = c.healthCategory ? HEALTH_CATEGORY[c.healthCategory] : null;
                const ch = c.churnLevel ? CHURN_LEVEL[c.churnLevel] : null;
                return (
                  <tr key={c.id}>
                    <th scope="row">
                      <Link to={`/customers/${encodeURIComponent(c.id)}`}>{c.name ?? c.id}</Link>
                    </th>
                    <td>{[c.region, c.country].filter(Boolean).join(" · ") || "—"}</td>
                    <td>{c.owner ?? "—"}</td>
                    <td className="num">{formatUsd(c.arrUsd)}</td>
                    <td>
                      <span className="score">{formatScore(c.healthScore)}</span> {h ? <ToneBadge tone={h.tone} label={h.label} /> : null}
                    </td>
                    <td>
                      <span className="score">{formatScore(c.churnRisk)}</span> {ch ? <ToneBadge tone={ch.tone} label={ch.label.replace(" churn risk", "")} /> : null}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      </section>

      <section className="panel" aria-labelledby="links-title">
        <header className="panel-head">
          <h2 id="links-title">Why these accounts are one company</h2>
          <span className="muted">{m.links.length} accepted link{m.links.length === 1 ? "" : "s"}</span>
        </header>
        {m.links.length === 0 ? (
          <Empty title="A single account">The linker found no other account of this company.</Empty>
        ) : (
          <ul className="link-list">
            {m.links.map((l) => (
              <li key={`${l.accountIdA}-${l.accountIdB}`}>
                <h3>
                  {l.accountNameA ?? names.get(l.accountIdA) ?? l.accountIdA} ↔ {l.accountNameB ?? names.get(l.accountIdB) ?? l.accountIdB}
                </h3>
                <LinkEvidence link={l} />
              </li>
            ))}
          </ul>
        )}
      </section>

      {m.pendingDecisions.length ? (
        <section className="panel" aria-labelledby="pending-title">
          <header className="panel-head">
            <h2 id="pending-title">Decisions waiting for the next pipeline run</h2>
          </header>
          <ul className="link-list">
            {m.pendingDecisions.map((d) => (
              <li key={d.id}>
                <strong>{humanize(d.decision.toLowerCase().replace(/_/g, " "))}</strong> {names.get(d.accountIdA) ?? d.accountIdA} ↔ {names.get(d.accountIdB) ?? d.accountIdB} — “{d.reason}” ({d.author}, {formatDateTime(d.at)})
              </li>
            ))}
          </ul>
        </section>
      ) : null}
    </div>
  );
}
