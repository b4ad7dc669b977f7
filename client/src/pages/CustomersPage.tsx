import { useEffect, useMemo, useState } from "react";
import { useQuery } from "@apollo/client";
import { Link } from "react-router";
import { ArrowDownWideNarrow, ArrowUpNarrowWide } from "lucide-react";
import { CustomerListDocument, type ChurnLevel, type CustomerSortField, type HealthCategory } from "../generated/graphql";
import { CHURN_LEVEL, HEALTH_CATEGORY, formatInt, formatScore, formatUsd } from "../lib/format";
import { Empty, ErrorState, Loading } from "../components/States";
import { ToneBadge } from "../components/ToneBadge";

const SORTS: { field: CustomerSortField; label: string }[] = [
  { field: "ARR", label: "ARR" },
  { field: "MRR", label: "MRR" },
  { field: "CLV", label: "CLV" },
  { field: "HEALTH", label: "Health" },
  { field: "CHURN_RISK", label: "Churn risk" },
  { field: "NAME", label: "Name" },
];
const PAGE = 25;

export function CustomersPage() {
  const [region, setRegion] = useState("");
  const [regionQ, setRegionQ] = useState("");
  const [health, setHealth] = useState<HealthCategory | "">("");
  const [churn, setChurn] = useState<ChurnLevel | "">("");
  const [field, setField] = useState<CustomerSortField>("ARR");
  const [descending, setDescending] = useState(true);
  const [loadingMore, setLoadingMore] = useState(false);

  useEffect(() => {
    document.title = "Customers — Customer 360";
  }, []);
  useEffect(() => {
    const t = setTimeout(() => setRegionQ(region.trim()), 300);
    return () => clearTimeout(t);
  }, [region]);

  const variables = useMemo(
    () => ({
      filter: { region: regionQ || null, healthCategory: health || null, churnLevel: churn || null },
      sort: { field, descending },
      first: PAGE,
      after: null,
    }),
    [regionQ, health, churn, field, descending],
  );
  const { data, loading, error, fetchMore, refetch } = useQuery(CustomerListDocument, { variables, notifyOnNetworkStatusChange: true });
  const conn = data?.customers;

  const more = async () => {
    if (!conn?.pageInfo.endCursor) return;
    setLoadingMore(true);
    try {
      await fetchMore({
        variables: { ...variables, after: conn.pageInfo.endCursor },
        updateQuery: (prev, { fetchMoreResult }) => ({
          customers: { ...fetchMoreResult.customers, edges: [...prev.customers.edges, ...fetchMoreResult.customers.edges] },
        }),
      });
    } finally {
      setLoadingMore(false);
    }
  };

  return (
    <div className="customers">
      <header className="page-head">
        <h1>Customers</h1>
        <p className="muted">{conn ? `${formatInt(conn.totalCount)} customers match` : "\u00a0"}</p>
      </header>
      <form className="filters panel" role="search" aria-label="Filter customers" onSubmit={(e) => e.preventDefault()}>
        <label className="field">
          <span>Region</span>
          <input value={region} onChange={(e) => setRegion(e.target.value)} placeholder="e.g. EMEA" />
        </label>
        <label className="field">
          <span>Health</span>
          <select data-testid="filter-health" value={health} onChange={(e) => setHealth(e.target.value as HealthCategory | "")}>
            <option value="">Any</option>
            {(Object.keys(HEALTH_CATEGORY) as HealthCategory[]).map((k) => (
              <option key={k} value={k}>
                {HEALTH_CATEGORY[k].label}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          <span>Churn risk</span>
          <select data-testid="filter-churn" value={churn} onChange={(e) => setChurn(e.target.value as ChurnLevel | "")}>
            <option value="">Any</option>
            {(Object.keys(CHURN_LEVEL) as ChurnLevel[]).map((k) => (
              <option key={k} value={k}>
                {CHURN_LEVEL[k].label.replace(" churn risk", "")}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          <span>Sort by</span>
          <select data-testid="sort-field" value={field} onChange={(e) => setField(e.target.value as CustomerSortField)}>
            {SORTS.map((s) => (
              <option key={s.field} value={s.field}>
                {s.label}
              </option>
            ))}
          </select>
        </label>
        <button type="button" className="btn" onClick={() => setDescending((d) => !d)} aria-label={descending ? "Descending order: switch to ascending" : "Ascending order: switch to descending"}>
          {descending ? <ArrowDownWideNarrow size={16} aria-hidden="true" /> : <ArrowUpNarrowWide size={16} aria-hidden="true" />}
          {descending ? "Descending" : "Ascending"}
        </button>
      </form>

      {error && !conn ? (
        <ErrorState error={error} onRetry={() => void refetch()} />
      ) : !conn ? (
        <Loading label="Loading customers…" rows={8} />
      ) : conn.edges.length === 0 ? (
        <Empty title="No customer matches these filters" />
      ) : (
        <section className="panel">
          <div className="table-wrap">
            <table className="data-table" aria-busy={loading} data-testid="customer-table">
              <thead>
                <tr>
                  <th scope="col">Customer</th>
                  <th scope="col">Region</th>
                  <th scope="col">Industry</th>
                  <th scope="col">Owner</th>
                  <th scope="col" className="num">
                    MRR
                  </th>
                  <th scope="col" className="num">
                    ARR
                  </th>
                  <th scope="col">Health</th>
                  <th scope="col">Churn risk</th>
                </tr>
              </thead>
              <tbody>
                {conn.edges.map(({ node: c }) => {
                  const h = c.healthCategory ? HEALTH_CATEGORY[c.healthCategory] : null;
                  const ch = c.churnLevel ? CHURN_LEVEL[c.churnLevel] : null;
                  return (
                    <tr key={c.id}>
                      <th scope="row">
                        <Link to={`/customers/${encodeURIComponent(c.id)}`}>{c.name ?? c.id}</Link>
                      </th>
                      <td>{[c.region, c.country].filter(Boolean).join(" · ") || "—"}</td>
                      <td>{c.industry ?? "—"}</td>
                      <td>{c.owner ?? "—"}</td>
                      <td className="num">{formatUsd(c.mrrUsd)}</td>
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
          {error ? <ErrorState error={error} compact onRetry={() => void refetch()} /> : null}
          {conn.pageInfo.hasNextPage ? (
            <button type="button" className="btn load-more" onClick={() => void more()} disabled={loadingMore}>
              {loadingMore ? "Loading…" : `Load more (${formatInt(conn.totalCount - conn.edges.length)} left)`}
            </button>
          ) : null}
        </section>
      )}
    </div>
  );
}
