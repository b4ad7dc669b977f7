import { useMemo, useState } from "react";
import { useQuery } from "@apollo/client";
import { Banknote, CalendarClock, Handshake, LifeBuoy, RefreshCcw, TrendingUp, type LucideIcon } from "lucide-react";
import { CustomerTimelineDocument, type TimelineEventType } from "../generated/graphql";
import { formatDate, formatUsd, humanize } from "../lib/format";
import { Empty, ErrorState, Loading } from "./States";

export const EVENT_TYPES: { type: TimelineEventType; label: string; icon: LucideIcon }[] = [
  { type: "SALES", label: "Sales", icon: Handshake },
  { type: "RENEWAL", label: "Renewals", icon: RefreshCcw },
  { type: "BILLING", label: "Billing", icon: Banknote },
  { type: "SUPPORT", label: "Support", icon: LifeBuoy },
  { type: "USAGE", label: "Usage", icon: TrendingUp },
  { type: "ENGAGEMENT", label: "Engagement", icon: CalendarClock },
];
const ICON = Object.fromEntries(EVENT_TYPES.map((e) => [e.type, e.icon])) as Record<TimelineEventType, LucideIcon>;
const PAGE = 25;

/** Statuses that mean trouble, shown in red; good outcomes in green; the rest neutral. */
function statusTone(status: string): string {
  if (/LATE|OVERDUE|ESCALAT|LOST|DROP|CANCEL|BREACH|CHURN/i.test(status)) return "bad";
  if (/WON|PAID$|^PAID|CLOSED|RENEWED|GROWTH|SPIKE|COMPLETED|RISE/i.test(status)) return "good";
  return "neutral";
}

/** The customer journey, newest first: filter by event type and date range, then page with "Load more". */
export function Timeline({ customerId }: { customerId: string }) {
  const [types, setTypes] = useState<TimelineEventType[]>([]);
  const [since, setSince] = useState("");
  const [until, setUntil] = useState("");
  const variables = useMemo(
    () => ({ id: customerId, types: types.length ? types : null, since: since || null, until: until || null, first: PAGE, after: null }),
    [customerId, types, since, until],
  );
  const { data, loading, error, fetchMore, refetch } = useQuery(CustomerTimelineDocument, { variables, notifyOnNetworkStatusChange: true });
  const [loadingMore, setLoadingMore] = useState(false);
  const timeline = data?.customer?.timeline;
  const invalidRange = Boolean(since && until && since > until);

  const toggle = (t: TimelineEventType) => setTypes((cur) => (cur.includes(t) ? cur.filter((x) => x !== t) : [...cur, t]));
  const clear = () => {
    setTypes([]);
    setSince("");
    setUntil("");
  };

  const more = async () => {
    if (!timeline?.pageInfo.endCursor) return;
    setLoadingMore(true);
    try {
      await fetchMore({ variables: { ...variables, after: timeline.pageInfo.endCursor } });
    } finally {
      setLoadingMore(false);
    }
  };

  return (
    <section className="panel timeline" aria-labelledby="timeline-title" data-testid="timeline">
      <header className="panel-head">
        <h2 id="timeline-title">Customer journey</h2>
        {timeline ? (
          <span className="muted" data-testid="timeline-count">
            {timeline.events.length} of {timeline.totalCount} events
          </span>
        ) : null}
      </header>
      <div className="timeline-filters" role="group" aria-label="Filter the timeline">
        <fieldset className="chips">
          <legend className="sr-only">Event types</legend>
          {EVENT_TYPES.map(({ type, label, icon: Icon }) => {
            const on = types.includes(type);
            return (
              <button key={type} type="button" className={`chip${on ? " on" : ""}`} aria-pressed={on} onClick={() => toggle(type)}>
                <Icon size={14} aria-hidden="true" /> {label}
              </button>
            );
          })}
        </fieldset>
        <label className="field inline">
          <span>From</span>
          <input type="date" value={since} max={until || undefined} onChange={(e) => setSince(e.target.value)} />
        </label>
        <label className="field inline">
          <span>To</span>
          <input type="date" value={until} min={since || undefined} onChange={(e) => setUntil(e.target.value)} />
        </label>
        {types.length || since || until ? (
          <button type="button" className="btn btn-ghost btn-small" onClick={clear}>
            Clear filters
          </button>
        ) : null}
      </div>
      {invalidRange ? <p className="inline-error" role="alert">“From” is after “To”: no event can match.</p> : null}
      {error && !timeline ? (
        <ErrorState error={error} onRetry={() => void refetch()} />
      ) : !timeline ? (
        <Loading label="Loading the timeline…" />
      ) : timeline.events.length === 0 ? (
        <Empty title="No events match">{types.length || since || until ? "Try other event types or a wider date range." : "Nothing has happened with this customer yet."}</Empty>
      ) : (
        <>
          <ol className="events" aria-busy={loading}>
            {timeline.events.map((ev) => {
              const Icon = ICON[ev.type] ?? CalendarClock;
              return (
                <li key={ev.id} className={`event type-${ev.type.toLowerCase()}`} data-type={ev.type}>
                  <span className="event-icon" aria-hidden="true">
                    <Icon size={16} />
                  </span>
                  <div className="event-body">
                    <div className="event-title">{ev.title}</div>
                    <div className="event-meta">
                      <time dateTime={ev.date}>{formatDate(ev.date)}</time>
                      <span className="event-type">{humanize(ev.type.toLowerCase())}</span>
                      {ev.status ? <span className={`status tone-${statusTone(ev.status)}`}>{humanize(ev.status.toLowerCase())}</span> : null}
                      <span className="muted source" title={`${ev.sourceTable} ${ev.sourceId}`}>
                        {ev.sourceTable}
                      </span>
                    </div>
                  </div>
                  {ev.amountUsd != null ? <div className="event-amount">{formatUsd(ev.amountUsd)}</div> : null}
                </li>
              );
            })}
          </ol>
          {error ? <ErrorState error={error} compact onRetry={() => void refetch()} /> : null}
          {timeline.pageInfo.hasNextPage ? (
            <button type="button" className="btn load-more" onClick={() => void more()} disabled={loadingMore}>
              {loadingMore ? "Loading…" : `Load more (${timeline.totalCount - timeline.events.length} left)`}
            </button>
          ) : null}
        </>
      )}
    </section>
  );
}
