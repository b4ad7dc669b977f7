import { useMemo, useState } from "react";
import { useMutation } from "@apollo/client";
import { BellOff, CheckCheck } from "lucide-react";
import { AcknowledgeAlertDocument, SnoozeAlertDocument, type AlertFieldsFragment } from "../generated/graphql";
import { SEVERITY, formatDate, formatDateTime, formatUsd, humanize, isoDay } from "../lib/format";
import { newIdempotencyKey } from "../lib/ids";
import { ActionDialog } from "./ActionDialog";
import { Explanation } from "./Explanation";
import { OutcomeMessage, useOutcomes } from "./Feedback";
import { Empty } from "./States";
import { ToneBadge } from "./ToneBadge";

const ACTIVE = new Set(["OPEN", "ACKNOWLEDGED", "SNOOZED"]);
const STATUS_TONE = { OPEN: "bad", ACKNOWLEDGED: "neutral", SNOOZED: "neutral", RESOLVED: "good" } as const;

/** Most severe first, then the largest impact. */
export function sortAlerts<T extends { severity: AlertFieldsFragment["severity"]; impactUsd: number | null }>(alerts: readonly T[]): T[] {
  return [...alerts].sort((a, b) => SEVERITY[b.severity].rank - SEVERITY[a.severity].rank || (b.impactUsd ?? 0) - (a.impactUsd ?? 0));
}

type Pending = { kind: "ack" | "snooze"; alert: AlertFieldsFragment; key: string } | null;

/** The customer's alerts, colour-coded by severity (and said in words), with Acknowledge and Snooze. */
export function AlertsList({ alerts }: { alerts: readonly AlertFieldsFragment[] }) {
  const [pending, setPending] = useState<Pending>(null);
  const [outcomes, setOutcome] = useOutcomes();
  const [acknowledge] = useMutation(AcknowledgeAlertDocument);
  const [snooze] = useMutation(SnoozeAlertDocument);
  const active = useMemo(() => sortAlerts(alerts.filter((a) => ACTIVE.has(a.status))), [alerts]);
  const closed = useMemo(() => sortAlerts(alerts.filter((a) => !ACTIVE.has(a.status))), [alerts]);

  const optimistic = (a: AlertFieldsFragment, change: Partial<AlertFieldsFragment>) =>
    ({ __typename: "AlertUpdated", alert: { ...a, __typename: "Alert", statusChangedAt: new Date().toISOString(), statusChangedBy: "you (saving…)", ...change } }) as const;

  const confirm = async (values: Record<string, string>) => {
    if (!pending) return;
    const { alert: a, key, kind } = pending;
    setPending(null);
    setOutcome(a.id, undefined);
    try {
      if (kind === "ack") {
        const note = values.note || null;
        const { data } = await acknowledge({
          variables: { id: a.id, note, idempotencyKey: key },
          optimisticResponse: { acknowledgeAlert: optimistic(a, { status: "ACKNOWLEDGED", statusReason: note }) },
        });
        const r = data?.acknowledgeAlert;
        if (r && r.__typename !== "AlertUpdated") setOutcome(a.id, { kind: "refused", typename: r.__typename, message: r.message });
        else setOutcome(a.id, { kind: "ok", message: "Acknowledged." });
      } else {
        const until = values.until!;
        const reason = values.reason || null;
        const { data } = await snooze({
          variables: { id: a.id, until, reason, idempotencyKey: key },
          optimisticResponse: { snoozeAlert: optimistic(a, { status: "SNOOZED", snoozedUntil: until, statusReason: reason }) },
        });
        const r = data?.snoozeAlert;
        if (r && r.__typename !== "AlertUpdated") setOutcome(a.id, { kind: "refused", typename: r.__typename, message: r.message });
        else setOutcome(a.id, { kind: "ok", message: `Snoozed until ${formatDate(until)}.` });
      }
    } catch (error) {
      setOutcome(a.id, { kind: "failed", error: error as Error });
    }
  };

  const item = (a: AlertFieldsFragment) => {
    const sev = SEVERITY[a.severity];
    return (
      <li key={a.id} className={`action-item sev-${a.severity.toLowerCase()}`} data-testid={`alert-${a.id}`} data-status={a.status}>
        <div className="action-head">
          <ToneBadge tone={sev.tone} label={`${sev.label} severity`} />
          <h3>{a.name}</h3>
          <span className={`status-pill tone-${STATUS_TONE[a.status]}`} data-testid="alert-status">
            {humanize(a.status.toLowerCase())}
            {a.status === "SNOOZED" && a.snoozedUntil ? ` until ${formatDate(a.snoozedUntil)}` : ""}
          </span>
        </div>
        <p className="action-message">{a.message}</p>
        <p className="action-meta muted">
          {a.category} · since {formatDate(a.firstSeen)}
          {a.lastSeen !== a.firstSeen ? `, last seen ${formatDate(a.lastSeen)}` : ""}
          {a.impactUsd != null ? (
            <>
              {" "}
              · impact <strong className="ink">{formatUsd(a.impactUsd)}</strong>
            </>
          ) : null}
          {a.resolvedOn ? ` · resolved ${formatDate(a.resolvedOn)}` : ""}
        </p>
        {a.statusChangedAt && a.status !== "OPEN" ? (
          <p className="action-meta muted">
            {humanize(a.status.toLowerCase())} by {a.statusChangedBy ?? "someone"} on {formatDateTime(a.statusChangedAt)}
            {a.statusReason ? ` — “${a.statusReason}”` : ""}
          </p>
        ) : null}
        <Explanation explanation={a.explanation} />
        {ACTIVE.has(a.status) ? (
          <div className="action-buttons">
            {a.status !== "ACKNOWLEDGED" ? (
              <button type="button" className="btn btn-small" onClick={() => setPending({ kind: "ack", alert: a, key: newIdempotencyKey() })} aria-label={`Acknowledge: ${a.name}`}>
                <CheckCheck size={14} aria-hidden="true" /> Acknowledge
              </button>
            ) : null}
            {a.status !== "SNOOZED" ? (
              <button type="button" className="btn btn-small" onClick={() => setPending({ kind: "snooze", alert: a, key: newIdempotencyKey() })} aria-label={`Snooze: ${a.name}`}>
                <BellOff size={14} aria-hidden="true" /> Snooze
              </button>
            ) : null}
          </div>
        ) : null}
        <OutcomeMessage outcome={outcomes[a.id]} onDismiss={() => setOutcome(a.id, undefined)} />
      </li>
    );
  };

  return (
    <>
      {active.length === 0 ? <Empty title="No open alerts">Nothing needs attention on this customer right now.</Empty> : <ul className="action-list">{active.map(item)}</ul>}
      {closed.length ? (
        <details className="history">
          <summary>Resolved ({closed.length})</summary>
          <ul className="action-list">{closed.map(item)}</ul>
        </details>
      ) : null}
      <ActionDialog
        open={pending?.kind === "ack"}
        title="Acknowledge alert"
        fields={[{ name: "note", label: "Note", kind: "textarea", placeholder: "What you are doing about it" }]}
        confirmLabel="Acknowledge"
        onConfirm={(v) => void confirm(v)}
        onClose={() => setPending(null)}
      >
        <p>{pending?.alert.name}: {pending?.alert.message}</p>
      </ActionDialog>
      <ActionDialog
        open={pending?.kind === "snooze"}
        title="Snooze alert"
        fields={[
          { name: "until", label: "Snooze until", kind: "date", required: true, min: isoDay(1), initial: isoDay(7), help: "It reopens then if its condition still holds." },
          { name: "reason", label: "Reason", kind: "textarea" },
        ]}
        confirmLabel="Snooze"
        onConfirm={(v) => void confirm(v)}
        onClose={() => setPending(null)}
      >
        <p>{pending?.alert.name}: {pending?.alert.message}</p>
      </ActionDialog>
    </>
  );
}
