import { useMemo, useState } from "react";
import { useMutation } from "@apollo/client";
import { PlayCircle, ThumbsDown } from "lucide-react";
import { DismissRecommendationDocument, ExecuteActionDocument, type RecommendationFieldsFragment } from "../generated/graphql";
import { SEVERITY, formatDate, formatDateTime, formatUsd, humanize, isoDay } from "../lib/format";
import { newIdempotencyKey } from "../lib/ids";
import { ActionDialog } from "./ActionDialog";
import { Explanation } from "./Explanation";
import { OutcomeMessage, useOutcomes } from "./Feedback";
import { Empty } from "./States";
import { ToneBadge } from "./ToneBadge";

type Rec = RecommendationFieldsFragment;
const STATUS_TONE = { OPEN: "warn", EXECUTED: "good", DISMISSED: "neutral", EXPIRED: "neutral" } as const;

/** Highest priority first, then the largest impact. */
export function sortRecommendations<T extends { priority: Rec["priority"]; impactUsd: number | null }>(recs: readonly T[]): T[] {
  return [...recs].sort((a, b) => SEVERITY[b.priority].rank - SEVERITY[a.priority].rank || (b.impactUsd ?? 0) - (a.impactUsd ?? 0));
}

type Pending = { kind: "execute" | "dismiss"; rec: Rec; key: string } | null;

/** Next-best actions: what to do, the expected outcome and impact; Execute and Dismiss update at once and roll back on failure. */
export function RecommendationsList({ recommendations }: { recommendations: readonly Rec[] }) {
  const [pending, setPending] = useState<Pending>(null);
  const [outcomes, setOutcome] = useOutcomes();
  const [execute] = useMutation(ExecuteActionDocument);
  const [dismiss] = useMutation(DismissRecommendationDocument);
  const open = useMemo(() => sortRecommendations(recommendations.filter((r) => r.status === "OPEN")), [recommendations]);
  const closed = useMemo(() => sortRecommendations(recommendations.filter((r) => r.status !== "OPEN")), [recommendations]);

  const optimistic = (r: Rec, change: Partial<Rec>) => ({ ...r, __typename: "Recommendation" as const, statusChangedAt: new Date().toISOString(), statusChangedBy: "you (saving…)", ...change });

  const confirm = async (values: Record<string, string>) => {
    if (!pending) return;
    const { rec: r, key, kind } = pending;
    setPending(null);
    setOutcome(r.id, undefined);
    try {
      if (kind === "execute") {
        const note = values.note || null;
        const { data } = await execute({
          variables: { recommendationId: r.id, idempotencyKey: key, note },
          optimisticResponse: { executeAction: { __typename: "ActionExecuted", recommendation: optimistic(r, { status: "EXECUTED", executedOn: isoDay(), statusReason: note }) } },
        });
        const res = data?.executeAction;
        if (res && res.__typename !== "ActionExecuted") setOutcome(r.id, { kind: "refused", typename: res.__typename, message: res.message });
        else setOutcome(r.id, { kind: "ok", message: "Executed — recorded and sent for follow-up." });
      } else {
        const reason = values.reason!;
        const { data } = await dismiss({
          variables: { id: r.id, reason, idempotencyKey: key },
          optimisticResponse: { dismissRecommendation: { __typename: "RecommendationUpdated", recommendation: optimistic(r, { status: "DISMISSED", statusReason: reason }) } },
        });
        const res = data?.dismissRecommendation;
        if (res && res.__typename !== "RecommendationUpdated") setOutcome(r.id, { kind: "refused", typename: res.__typename, message: res.message });
        else setOutcome(r.id, { kind: "ok", message: "Dismissed." });
      }
    } catch (error) {
      setOutcome(r.id, { kind: "failed", error: error as Error });
    }
  };

  const item = (r: Rec) => {
    const pr = SEVERITY[r.priority];
    const wb = r.executedAction?.writeBack;
    return (
      <li key={r.id} className={`action-item sev-${r.priority.toLowerCase()}`} data-testid={`rec-${r.id}`} data-status={r.status}>
        <div className="action-head">
          <ToneBadge tone={pr.tone} label={`${pr.label} priority`} />
          <h3>{r.title}</h3>
          <span className={`status-pill tone-${STATUS_TONE[r.status]}`} data-testid="rec-status">
            {humanize(r.status.toLowerCase())}
          </span>
        </div>
        <p className="rec-action">{r.action}</p>
        <dl className="rec-facts">
          <div>
            <dt>Expected outcome</dt>
            <dd>{r.expectedOutcome}</dd>
          </div>
          <div>
            <dt>Impact</dt>
            <dd>
              <strong>{formatUsd(r.impactUsd)}</strong> <span className="muted">at stake</span>
            </dd>
          </div>
          <div>
            <dt>Because</dt>
            <dd>{r.message}</dd>
          </div>
        </dl>
        <p className="action-meta muted">
          {r.category} · suggested {formatDate(r.firstSeen)}
          {r.executedOn ? ` · executed ${formatDate(r.executedOn)}` : ""}
          {r.status !== "OPEN" && r.statusChangedAt ? ` · ${humanize(r.status.toLowerCase())} by ${r.statusChangedBy ?? "someone"} on ${formatDateTime(r.statusChangedAt)}` : ""}
          {r.status !== "OPEN" && r.statusReason ? ` — “${r.statusReason}”` : ""}
          {wb ? ` · Salesforce task: ${humanize(wb.status.toLowerCase().replace(/_/g, " "))}${wb.salesforceTaskId ? ` (${wb.salesforceTaskId})` : ""}` : ""}
        </p>
        <Explanation explanation={r.explanation} />
        {r.status === "OPEN" ? (
          <div className="action-buttons">
            <button type="button" className="btn btn-small btn-primary" onClick={() => setPending({ kind: "execute", rec: r, key: newIdempotencyKey() })} aria-label={`Execute: ${r.title}`}>
              <PlayCircle size={14} aria-hidden="true" /> Execute
            </button>
            <button type="button" className="btn btn-small" onClick={() => setPending({ kind: "dismiss", rec: r, key: newIdempotencyKey() })} aria-label={`Dismiss: ${r.title}`}>
              <ThumbsDown size={14} aria-hidden="true" /> Dismiss
            </button>
          </div>
        ) : null}
        <OutcomeMessage outcome={outcomes[r.id]} onDismiss={() => setOutcome(r.id, undefined)} />
      </li>
    );
  };

  return (
    <>
      {open.length === 0 ? <Empty title="No open recommendations">No next-best action is suggested for this customer right now.</Empty> : <ol className="action-list">{open.map(item)}</ol>}
      {closed.length ? (
        <details className="history" open={closed.some((r) => outcomes[r.id])}>
          <summary>Executed, dismissed and expired ({closed.length})</summary>
          <ul className="action-list">{closed.map(item)}</ul>
        </details>
      ) : null}
      <ActionDialog
        open={pending?.kind === "execute"}
        title="Execute recommendation"
        fields={[{ name: "note", label: "Note", kind: "textarea", placeholder: "Anything the team should know" }]}
        confirmLabel="Execute"
        onConfirm={(v) => void confirm(v)}
        onClose={() => setPending(null)}
      >
        <p>
          <strong>{pending?.rec.action}</strong>
        </p>
        <p className="muted">This records the action as done and, when Salesforce is configured, creates a follow-up task there. It runs once, even if you click twice.</p>
      </ActionDialog>
      <ActionDialog
        open={pending?.kind === "dismiss"}
        title="Dismiss recommendation"
        fields={[{ name: "reason", label: "Reason", kind: "textarea", required: true, placeholder: "Why this does not apply" }]}
        confirmLabel="Dismiss"
        danger
        onConfirm={(v) => void confirm(v)}
        onClose={() => setPending(null)}
      >
        <p>
          <strong>{pending?.rec.title}</strong>: {pending?.rec.action}
        </p>
      </ActionDialog>
    </>
  );
}
