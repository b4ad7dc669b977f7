import { useEffect, useState } from "react";
import { useMutation, useQuery } from "@apollo/client";
import { Link } from "react-router";
import { Link2, Link2Off } from "lucide-react";
import { LinkAccountsDocument, LinkReviewQueueDocument, UnlinkAccountsDocument, type LinkReviewQueueQuery } from "../generated/graphql";
import { formatDate, formatDateTime, formatInt, formatScore, humanize } from "../lib/format";
import { newIdempotencyKey } from "../lib/ids";
import { ActionDialog } from "../components/ActionDialog";
import { OutcomeMessage, useOutcomes } from "../components/Feedback";
import { Empty, ErrorState, Loading } from "../components/States";
import { ToneBadge } from "../components/ToneBadge";

type Item = LinkReviewQueueQuery["linkReviewQueue"]["items"][number];
type Decision = LinkReviewQueueQuery["linkDecisions"][number];
const pairKey = (a: string, b: string) => [a, b].sort().join("|");

const TYPE_WORDS: Record<string, string> = {
  grey_band_pair: "Possible match (grey band)",
  held_back_link: "Link held back",
  chain_cluster: "Chained cluster",
  oversize_cluster: "Oversized cluster",
};

/** Admins: what the account linker wants a person to decide; Accept records a must-link, Reject a must-not-link. */
export function ReviewQueuePage() {
  const { data, loading, error, refetch } = useQuery(LinkReviewQueueDocument, { variables: { first: 50 } });
  const [link] = useMutation(LinkAccountsDocument);
  const [unlink] = useMutation(UnlinkAccountsDocument);
  const [pending, setPending] = useState<{ item: Item; accept: boolean; key: string } | null>(null);
  const [outcomes, setOutcome] = useOutcomes();
  useEffect(() => {
    document.title = "Link review — Customer 360";
  }, []);

  const q = data?.linkReviewQueue;
  const decided = new Map<string, Decision>((data?.linkDecisions ?? []).filter((d) => d.active).map((d) => [pairKey(d.accountIdA, d.accountIdB), d]));

  const confirm = async (values: Record<string, string>) => {
    if (!pending?.item.accountIdA || !pending.item.accountIdB) return;
    const { item, accept, key } = pending;
    const id = pairKey(item.accountIdA!, item.accountIdB!);
    setPending(null);
    setOutcome(id, undefined);
    try {
      const variables = { a: item.accountIdA!, b: item.accountIdB!, reason: values.reason!, idempotencyKey: key };
      const res = accept ? (await link({ variables, refetchQueries: [LinkReviewQueueDocument], awaitRefetchQueries: true })).data?.linkAccounts : (await unlink({ variables, refetchQueries: [LinkReviewQueueDocument], awaitRefetchQueries: true })).data?.unlinkAccounts;
      if (res && res.__typename !== "LinkDecisionRecorded") setOutcome(id, { kind: "refused", typename: res.__typename, message: res.message });
      else setOutcome(id, { kind: "ok", message: `${accept ? "Accepted: must link" : "Rejected: must not link"} — applied on the next pipeline run.` });
    } catch (e) {
      setOutcome(id, { kind: "failed", error: e as Error });
    }
  };

  return (
    <div className="review">
      <header className="page-head">
        <h1>Link review queue</h1>
        <p className="muted">{q ? `${formatInt(q.totalCount)} item${q.totalCount === 1 ? "" : "s"} · as of ${formatDate(q.asOf.date)}` : "\u00a0"}</p>
      </header>
      {error && !q ? (
        <ErrorState error={error} onRetry={() => void refetch()} />
      ) : !q ? (
        <Loading label={loading ? "Loading the queue…" : "Waiting…"} rows={5} />
      ) : !q.available ? (
        <Empty title="No linker output in this snapshot">Run the pipeline with the account linker to fill the queue.</Empty>
      ) : q.items.length === 0 ? (
        <Empty title="Nothing to review">The linker is confident about every pair in this snapshot.</Empty>
      ) : (
        <ul className="action-list" data-testid="review-queue">
          {q.items.map((item, i) => {
            const pair = item.accountIdA && item.accountIdB ? pairKey(item.accountIdA, item.accountIdB) : null;
            const d = pair ? decided.get(pair) : undefined;
            return (
              <li key={pair ?? `${item.reviewType}-${i}`} className="action-item" data-testid="review-item">
                <div className="action-head">
                  <ToneBadge tone="warn" label={TYPE_WORDS[item.reviewType] ?? humanize(item.reviewType)} />
                  <h3>
                    {item.accountIdA ? <Link to={`/customers/${encodeURIComponent(item.accountIdA)}`}>{item.accountNameA ?? item.accountIdA}</Link> : null}
                    {item.accountIdB ? (
                      <>
                        {" ↔ "}
                        <Link to={`/customers/${encodeURIComponent(item.accountIdB)}`}>{item.accountNameB ?? item.accountIdB}</Link>
                      </>
                    ) : null}
                    {!item.accountIdA && !item.accountIdB ? `${item.memberAccountIds.length} accounts` : null}
                  </h3>
                  {item.confidence != null ? <span className="status-pill tone-neutral">confidence {formatScore(item.confidence)}</span> : null}
                </div>
                {item.evidence ? <p className="action-message">{item.evidence}</p> : null}
                <p className="action-meta muted">
                  {item.method ? `method ${item.method}` : ""}
                  {item.reason ? ` · ${item.reason}` : ""}
                </p>
                {!pair ? (
                  <p className="action-meta">
                    Members:{" "}
                    {item.memberAccountIds.map((id, j) => (
                      <span key={id}>
                        {j ? ", " : ""}
                        <Link to={`/customers/${encodeURIComponent(id)}`} className="mono">
                          {id}
                        </Link>
                      </span>
                    ))}
                  </p>
                ) : d ? (
                  <p className="outcome ok" data-testid="review-decision">
                    Decided: {d.decision === "MUST_LINK" ? "same company (must link)" : "different companies (must not link)"} by {d.author}, {formatDateTime(d.at)} — “{d.reason}”
                  </p>
                ) : (
                  <div className="action-buttons">
                    <button type="button" className="btn btn-small btn-primary" onClick={() => setPending({ item, accept: true, key: newIdempotencyKey() })}>
                      <Link2 size={14} aria-hidden="true" /> Accept link
                    </button>
                    <button type="button" className="btn btn-small" onClick={() => setPending({ item, accept: false, key: newIdempotencyKey() })}>
                      <Link2Off size={14} aria-hidden="true" /> Reject
                    </button>
                  </div>
                )}
                {pair ? <OutcomeMessage outcome={outcomes[pair]} onDismiss={() => setOutcome(pair, undefined)} /> : null}
              </li>
            );
          })}
        </ul>
      )}
      <ActionDialog
        open={pending != null}
        title={pending?.accept ? "Accept link: same company" : "Reject link: different companies"}
        fields={[{ name: "reason", label: "Reason", kind: "textarea", required: true }]}
        confirmLabel={pending?.accept ? "Accept link" : "Reject link"}
        danger={pending ? !pending.accept : false}
        onConfirm={(v) => void confirm(v)}
        onClose={() => setPending(null)}
      >
        <p>
          {pending?.item.accountNameA ?? pending?.item.accountIdA} ↔ {pending?.item.accountNameB ?? pending?.item.accountIdB}
        </p>
        <p className="muted">The decision is stored now and applied by the linker on the next pipeline run.</p>
      </ActionDialog>
    </div>
  );
}
