import { useQuery } from "@apollo/client";
import { Link } from "react-router";
import { Network } from "lucide-react";
import { CustomerLinksDocument, type LinkFieldsFragment } from "../generated/graphql";
import { HEALTH_CATEGORY, formatScore, humanize } from "../lib/format";
import { ToneBadge } from "./ToneBadge";

/** A link's evidence in words, with the methods and the numbers behind it. */
export function LinkEvidence({ link }: { link: LinkFieldsFragment }) {
  return (
    <dl className="evidence">
      <div>
        <dt>Evidence</dt>
        <dd>{link.evidence}</dd>
      </div>
      <div>
        <dt>Methods</dt>
        <dd>{link.methods.join(", ")}</dd>
      </div>
      <div>
        <dt>Confidence</dt>
        <dd>{formatScore(link.confidence)} / 100</dd>
      </div>
      {link.nameSimilarity != null ? (
        <div>
          <dt>Name similarity</dt>
          <dd>
            {formatScore(link.nameSimilarity)} / 100{link.nameScorer ? ` (${link.nameScorer})` : ""}
          </dd>
        </div>
      ) : null}
      {link.sharedContact ? (
        <div>
          <dt>Shared contact</dt>
          <dd>
            {link.sharedContact}
            {link.sharedContactCount > 1 ? ` (+${link.sharedContactCount - 1} more)` : ""}
          </dd>
        </div>
      ) : null}
      {link.sameParent ? (
        <div>
          <dt>Same parent</dt>
          <dd className="mono">{link.sameParent}</dd>
        </div>
      ) : null}
    </dl>
  );
}

/** The master account this customer belongs to and its other regional accounts, each with the evidence of the link. */
export function LinkedAccounts({ customerId }: { customerId: string }) {
  const { data } = useQuery(CustomerLinksDocument, { variables: { id: customerId } });
  const c = data?.customer;
  if (!c?.masterAccount) return null;
  const m = c.masterAccount;
  return (
    <section className="linked" aria-labelledby="linked-title" data-testid="linked-accounts">
      <h2 id="linked-title" className="linked-title">
        <Network size={15} aria-hidden="true" /> Company{" "}
        <Link to={`/masters/${encodeURIComponent(m.id)}`} className="mono">
          {m.id}
        </Link>{" "}
        <span className="muted">
          · {m.size} account{m.size === 1 ? "" : "s"}
        </span>
        {m.needsReview ? <ToneBadge tone="warn" label="Needs review" /> : null}
      </h2>
      {c.linkedAccounts.length ? (
        <ul className="linked-list">
          {c.linkedAccounts.map(({ customer: o, link }) => {
            const h = o.healthCategory ? HEALTH_CATEGORY[o.healthCategory] : null;
            return (
              <li key={o.id}>
                <div className="linked-row">
                  <Link to={`/customers/${encodeURIComponent(o.id)}`}>{o.name ?? o.id}</Link>
                  <span className="muted"> {[o.region, o.country].filter(Boolean).join(" · ")}</span>
                  {h ? <ToneBadge tone={h.tone} label={h.label} /> : null}
                </div>
                <details>
                  <summary>{link ? `${humanize(link.method)} link, ${formatScore(link.confidence)}% — evidence` : "Linked through another account"}</summary>
                  {link ? <LinkEvidence link={link} /> : <p className="muted small">No direct link: both are linked to other accounts of this company.</p>}
                </details>
              </li>
            );
          })}
        </ul>
      ) : (
        <p className="muted small">No other regional account is linked to this one.</p>
      )}
    </section>
  );
}
