"""Master accounts: the linker's clusters of regional accounts, their evidence and roll-ups,
the review queue, and the manual decisions made through this API."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from server.context import Info
from server.schema.selection import selected_columns
from server.schema.types import AsOf, PageInfo, cursor_decode, cursor_encode
from server.snapshot import _as_date
from server.store import LinkDecision as LinkDecisionRecord

if TYPE_CHECKING:
    from server.schema.customers import Customer

CustomerRef = Annotated["Customer", strawberry.lazy("server.schema.customers")]


@strawberry.type(description="An accepted link between two accounts of one master, with the evidence for it.")
class AccountLink:
    account_id_a: strawberry.ID
    account_id_b: strawberry.ID
    account_name_a: str | None
    account_name_b: str | None
    method: str = strawberry.field(description="manual / exact / fuzzy / parent / contact: the strongest method")
    confidence: float
    methods: list[str] = strawberry.field(description="Every method that matched")
    name_similarity: float | None = strawberry.field(description="0-100 on the normalised names")
    name_scorer: str | None
    same_parent: str | None = strawberry.field(description="The shared top-level parent account id")
    shared_contact: str | None = strawberry.field(description="The (first) shared email or phone")
    shared_contact_count: int
    evidence: str = strawberry.field(description="The same, in words")

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> AccountLink:
        return cls(
            account_id_a=strawberry.ID(r["account_id_a"]),
            account_id_b=strawberry.ID(r["account_id_b"]),
            account_name_a=r.get("account_name_a"),
            account_name_b=r.get("account_name_b"),
            method=r["method"],
            confidence=float(r["confidence"]),
            methods=[m for m in (r.get("methods") or "").split(",") if m],
            name_similarity=r.get("name_similarity"),
            name_scorer=r.get("name_scorer"),
            same_parent=r.get("same_parent"),
            shared_contact=r.get("shared_contact"),
            shared_contact_count=int(r.get("shared_contact_count") or 0),
            evidence=r.get("evidence") or "",
        )


@strawberry.type(description="Commercial totals over a master account's members.")
class MasterRollup:
    member_accounts: int
    accounts_with_metrics: int
    total_arr_usd: float | None
    total_mrr_usd: float | None
    arr_weighted_health_score: float | None
    worst_churn_level: str | None
    high_risk_accounts: int
    earliest_contract_end_date: date | None

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> MasterRollup:
        """From a roll-ups row, which may hold only the columns the request selects (`ROLLUP_COLUMNS`):
        a field whose column was not read is None here and never shown."""
        member_accounts, with_metrics = r.get("member_accounts"), r.get("accounts_with_metrics")
        return cls(
            member_accounts=None if member_accounts is None else int(member_accounts),
            accounts_with_metrics=None if with_metrics is None else int(with_metrics),
            total_arr_usd=r.get("total_arr_usd"),
            total_mrr_usd=r.get("total_mrr_usd"),
            arr_weighted_health_score=r.get("arr_weighted_health_score"),
            worst_churn_level=r.get("worst_churn_level"),
            high_risk_accounts=int(r.get("high_risk_accounts") or 0) if "high_risk_accounts" in r else None,
            earliest_contract_end_date=_as_date(r.get("earliest_contract_end_date")),
        )


# The roll-ups columns each MasterRollup field shows (`MasterRollup.from_row`)
ROLLUP_COLUMNS: dict[str, tuple[str, ...]] = {
    "__typename": (), "memberAccounts": ("member_accounts",), "accountsWithMetrics": ("accounts_with_metrics",),
    "totalArrUsd": ("total_arr_usd",), "totalMrrUsd": ("total_mrr_usd",), "arrWeightedHealthScore": ("arr_weighted_health_score",),
    "worstChurnLevel": ("worst_churn_level",), "highRiskAccounts": ("high_risk_accounts",),
    "earliestContractEndDate": ("earliest_contract_end_date",),
}


@strawberry.enum
class LinkDecisionKind(Enum):
    MUST_LINK = "must_link"
    MUST_NOT_LINK = "must_not_link"


@strawberry.type(description="A manual decision made through this API; the linker applies it on the next pipeline run.")
class LinkDecision:
    id: strawberry.ID
    account_id_a: strawberry.ID
    account_id_b: strawberry.ID
    decision: LinkDecisionKind
    reason: str
    author: str
    at: datetime
    active: bool = strawberry.field(description="False once a later decision on the same pair replaced it")

    @classmethod
    def from_record(cls, d: LinkDecisionRecord) -> LinkDecision:
        return cls(
            id=strawberry.ID(d.decision_id),
            account_id_a=strawberry.ID(d.account_a),
            account_id_b=strawberry.ID(d.account_b),
            decision=LinkDecisionKind(d.decision),
            reason=d.reason,
            author=d.author,
            at=d.at,
            active=d.superseded_by is None,
        )


@strawberry.type(description="One real company: the regional accounts the linker put under one master id.")
class MasterAccount:
    id: strawberry.ID
    size: int = strawberry.field(description="Accounts under the master")
    needs_review: bool = strawberry.field(description="The cluster was flagged (chain or size guard)")
    as_of: AsOf

    @strawberry.field
    def members(self, info: Info) -> list[CustomerRef]:
        from server.schema.customers import Customer, customer_columns

        snap = info.context.snapshot()
        return [Customer.from_row(r, snap.run_id) for r in snap.customers(snap.member_ids(str(self.id)), customer_columns(info))]

    @strawberry.field(description="Accepted links inside the master, each with its evidence")
    def links(self, info: Info) -> list[AccountLink]:
        rows = info.context.snapshot().links_of(str(self.id))
        return [AccountLink.from_row(r) for r in rows or []]

    @strawberry.field
    def rollup(self, info: Info) -> MasterRollup | None:
        r = info.context.snapshot().rollup(str(self.id), selected_columns(info, ROLLUP_COLUMNS, ()))
        return None if r is None else MasterRollup.from_row(r)

    @strawberry.field(description="Manual decisions made through this API on any member, waiting for the next pipeline run")
    def pending_decisions(self, info: Info) -> list[LinkDecision]:
        ids = info.context.snapshot().member_ids(str(self.id))
        return [LinkDecision.from_record(d) for d in info.context.store.link_decisions_for(ids)]


@strawberry.type(description="Another account of the same company, and the direct link to it (null when linked only through others).")
class LinkedAccount:
    customer: CustomerRef
    link: AccountLink | None


def master_for(info: Info, account_id: str) -> MasterAccount | None:
    snap = info.context.snapshot()
    row = info.context.loaders.master.load(account_id)
    if row is None:
        return None
    return MasterAccount(id=strawberry.ID(row["master_id"]), size=int(row["cluster_size"]), needs_review=bool(row["needs_review"]),
                         as_of=AsOf(date=snap.as_of, run_id=snap.run_id))


def linked_accounts(info: Info, account_id: str) -> list[LinkedAccount]:
    from server.schema.customers import Customer, customer_columns

    snap = info.context.snapshot()
    row = info.context.loaders.master.load(account_id)
    if row is None:
        return []
    others = [i for i in snap.member_ids(row["master_id"]) if i != account_id]
    if not others:
        return []
    links = snap.links_of(row["master_id"])
    direct: dict[str, AccountLink] = {}
    if links is not None:
        for r in links:
            if r["account_id_a"] == account_id:
                direct[r["account_id_b"]] = AccountLink.from_row(r)
            elif r["account_id_b"] == account_id:
                direct[r["account_id_a"]] = AccountLink.from_row(r)
    rows = snap.customers(others, customer_columns(info, "customer"))
    return [LinkedAccount(customer=Customer.from_row(r, snap.run_id), link=direct.get(r["account_id"])) for r in rows]


@strawberry.type(description="Something a person should look at: a grey-band pair, a held-back link, or a flagged cluster.")
class ReviewItem:
    review_type: str = strawberry.field(description="grey_band_pair / held_back_link / chain_cluster / oversize_cluster")
    account_id_a: strawberry.ID | None
    account_id_b: strawberry.ID | None
    account_name_a: str | None
    account_name_b: str | None
    member_account_ids: list[strawberry.ID]
    confidence: float | None
    method: str | None
    evidence: str | None
    reason: str | None


@strawberry.type(description="The link review queue. `available` is false when the snapshot has no linker output.")
class ReviewQueue:
    available: bool
    as_of: AsOf
    total_count: int
    page_info: PageInfo
    items: list[ReviewItem]


@strawberry.type(description="One entry of the audit log: who did what, when, with which API key.")
class AuditEntry:
    at: datetime
    actor: str
    api_key_id: str | None
    role: str | None
    request_id: str | None
    operation: str
    target_type: str | None
    target_id: str | None
    customer_id: strawberry.ID | None
    idempotency_key: str | None
    outcome: str
    detail: str | None = strawberry.field(description="The arguments and result, as JSON")


@strawberry.type
class AccountQuery:
    @strawberry.field(description="A master account by id (M<generation>-<founding account id>); null when unknown")
    def master_account(self, info: Info, id: strawberry.ID) -> MasterAccount | None:
        snap = info.context.snapshot()
        info.context.touch_all()
        members = snap.members_of(str(id))
        if not members:
            return None
        row = members[0]
        return MasterAccount(id=id, size=int(row["cluster_size"]), needs_review=bool(row["needs_review"]),
                             as_of=AsOf(date=snap.as_of, run_id=snap.run_id))

    @strawberry.field(description="Admins: what the linker wants a person to decide, highest confidence first")
    def link_review_queue(self, info: Info, types: list[str] | None = None, first: int = 50, after: str | None = None) -> ReviewQueue:
        ctx = info.context
        ctx.require("admin")
        ctx.touch_all()
        snap = ctx.snapshot()
        first = ctx.page_size(first)
        as_of = AsOf(date=snap.as_of, run_id=snap.run_id)
        if snap.review_queue is None:
            return ReviewQueue(available=False, as_of=as_of, total_count=0, page_info=PageInfo(has_next_page=False, end_cursor=after), items=[])
        df = snap.review_queue.df
        if types:
            df = df[df["review_type"].isin(types)]
        df = df.sort_values(["confidence", "review_type"], ascending=[False, True], na_position="last", kind="stable")
        offset = cursor_decode(after)
        page = df.iloc[offset : offset + first]
        items = [
            ReviewItem(
                review_type=r["review_type"],
                account_id_a=r.get("account_id_a"),
                account_id_b=r.get("account_id_b"),
                account_name_a=r.get("account_name_a"),
                account_name_b=r.get("account_name_b"),
                member_account_ids=[strawberry.ID(x) for x in (r.get("member_account_ids") if r.get("member_account_ids") is not None else [])],
                confidence=r.get("confidence"),
                method=r.get("method"),
                evidence=r.get("evidence"),
                reason=r.get("reason"),
            )
            for r in snap.review_queue.take(page.index)
        ]
        end = offset + len(page)
        return ReviewQueue(available=True, as_of=as_of, total_count=len(df),
                           page_info=PageInfo(has_next_page=end < len(df), end_cursor=cursor_encode(end) if len(page) else after), items=items)

    @strawberry.field(description="Admins: manual link decisions made through this API (active ones unless told)")
    def link_decisions(self, info: Info, include_superseded: bool = False) -> list[LinkDecision]:
        info.context.require("admin")
        info.context.touch_all()
        return [LinkDecision.from_record(d) for d in info.context.store.link_decisions(active_only=not include_superseded)]

    @strawberry.field(description="Admins: the newest audit log entries, optionally for one target or customer")
    def audit_log(self, info: Info, first: int = 50, target_id: str | None = None, customer_id: strawberry.ID | None = None) -> list[AuditEntry]:
        ctx = info.context
        ctx.require("admin")
        ctx.touch_all()
        rows = ctx.store.audit_entries(ctx.page_size(first), target_id=target_id, account_id=str(customer_id) if customer_id else None)
        return [
            AuditEntry(
                at=datetime.fromisoformat(r["at"]), actor=r["actor"], api_key_id=r["api_key_id"], role=r["role"], request_id=r["request_id"],
                operation=r["operation"], target_type=r["target_type"], target_id=r["target_id"],
                customer_id=strawberry.ID(r["account_id"]) if r["account_id"] else None, idempotency_key=r["idempotency_key"],
                outcome=r["outcome"], detail=r["detail"],
            )
            for r in rows
        ]

