"""Opportunities, their line items and the contracts they create.

Each customer holds one or two *deal chains*: a won New Business deal for a
few products, then a Renewal each time its contract ends.  Renewal outcomes
(won on time, won late, lost, still open) follow the customer's archetype,
Upsells grow the next renewal, and lost or open New Business deals fill the
pipeline.  Contract periods decide which services are active each month,
which is what invoices and usage are later built from.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from etl.generate import catalogue as cat
from etl.generate import text
from etl.generate.common import (
    DAY,
    GROWING,
    Clock,
    Stamps,
    add_months,
    business_seconds,
    choice,
    choice_rows,
    expand,
    months_between,
    record_stamps,
    within_group,
)
from etl.generate.companies import Book

NEW_BUSINESS, RENEWAL, UPSELL = 0, 1, 2
OPPORTUNITY_TYPES = ("New Business", "Renewal", "Upsell")
STAGES = ("Prospecting", "Qualification", "Proposal", "Negotiation", "Closed Won", "Closed Lost")
PROBABILITY = np.array([10.0, 20.0, 50.0, 75.0, 100.0, 0.0])
WON, LOST = 4, 5
TERMS = np.array([12, 24, 36])
TERM_WEIGHTS = np.array([0.4, 0.4, 0.2])
MAX_PERIODS = 8  # 36 months of history with 12-month terms needs at most 5

# Per archetype (growing, stable, at-risk, churning).
SECOND_CHAIN = np.array([0.45, 0.30, 0.15, 0.10])  # a later New Business deal for other products
RENEWAL_QUOTED = np.array([0.85, 0.75, 0.60, 0.45])  # a renewal is open before the contract ends
# Renewal outcome (on time, late, lost) for contracts ending in the last six months or later...
RENEWAL_RECENT = np.array([[0.85, 0.11, 0.04], [0.75, 0.17, 0.08], [0.45, 0.27, 0.28], [0.22, 0.23, 0.55]])
# ...and earlier, before at-risk and churning customers started to slide.
RENEWAL_EARLIER = np.array([[0.88, 0.10, 0.02], [0.82, 0.14, 0.04], [0.72, 0.22, 0.06], [0.65, 0.27, 0.08]])
RENEWAL_GROWTH = np.array([[1.05, 1.35], [0.95, 1.08], [0.80, 1.00], [0.60, 0.90]])  # quantity factor range
UPSELL_CHANCE = np.array([0.55, 0.20, 0.06, 0.02])  # per contract period
PIPELINE_RATE = np.array([1.2, 0.8, 0.6, 0.4])  # other New Business opportunities per account

_PRODUCT_PRICE = np.array([p.monthly_usd for p in cat.PRODUCTS])
_PRODUCT_QTY = np.array([p.typical_qty for p in cat.PRODUCTS], dtype=float)


@dataclass
class Deals:
    """Opportunities, line items and contracts as numbers; rendered to tables later."""

    opp_account: np.ndarray
    opp_type: np.ndarray
    opp_stage: np.ndarray
    opp_close: np.ndarray  # day
    opp_created: np.ndarray  # seconds
    opp_term: np.ndarray  # months
    opp_amount: np.ndarray  # sum of its lines, in the account currency
    line_opp: np.ndarray
    line_product: np.ndarray
    line_qty: np.ndarray
    line_unit_price: np.ndarray  # per unit for the whole term
    line_total: np.ndarray
    line_service: np.ndarray  # day the service starts
    line_term: np.ndarray
    line_cover_start: np.ndarray  # days the line is billed from / until (exclusive); -1 unless won
    line_cover_end: np.ndarray
    line_service_id: np.ndarray  # the installed service (asset) a line prices, -1 for pipeline deals
    service_account: np.ndarray  # per installed service: one product of one deal chain
    service_product: np.ndarray
    contract_opp: np.ndarray  # the won New Business / Renewal opportunity behind each contract
    contract_start: np.ndarray
    contract_term: np.ndarray
    preference: np.ndarray  # (accounts, products) products in the order the account buys them


class _Rows:
    """Column-wise accumulator for rows emitted period by period."""

    def __init__(self) -> None:
        self.parts: dict[str, list[np.ndarray]] = {}
        self.n = 0

    def add(self, **cols: np.ndarray) -> np.ndarray:
        size = len(next(iter(cols.values())))
        for k, v in cols.items():
            self.parts.setdefault(k, []).append(np.asarray(v))
        first = self.n
        self.n += size
        return np.arange(first, first + size)

    def col(self, name: str, dtype: type = np.int64) -> np.ndarray:
        parts = self.parts.get(name)
        return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)


def _round_money(values: np.ndarray, currency: np.ndarray) -> np.ndarray:
    decimals = cat.CURRENCY_DECIMALS[currency]
    scale = 10.0 ** decimals
    return np.round(values * scale) / scale


def _open_stage(close: np.ndarray, today: int) -> np.ndarray:
    """Stage of an open opportunity from how far away its close date is."""
    days = close - today
    return np.select([days <= 30, days <= 75, days <= 120], [3, 2, 1], 0)


def plan_deals(book: Book, clock: Clock, rng: np.random.Generator) -> Deals:
    today = clock.today
    n = book.n
    arch = book.archetype
    keys = np.log(cat.PRODUCT_AFFINITY[book.industry]) + rng.gumbel(size=(n, len(cat.PRODUCTS)))
    preference = np.argsort(-keys, axis=1)

    # --- deal chains and the products each one covers
    biz = np.flatnonzero(~book.no_business)
    late_start = book.since[biz] + ((today - 30 - book.since[biz]) * rng.uniform(0.2, 1.0, len(biz))).astype(np.int64)
    second = (rng.random(len(biz)) < SECOND_CHAIN[arch[biz]]) & (today - 30 - book.since[biz] > 90)
    chain_acct = np.concatenate([biz, biz[second]])
    chain_start = np.concatenate([book.since[biz], late_start[second]])
    n_chain = len(chain_acct)
    size = book.size[chain_acct]
    p_more = np.clip(0.25 + 0.15 * np.log(size), 0.05, 0.9)
    k = 1 + rng.binomial(2, p_more)
    first_k = np.zeros(n, dtype=np.int64)
    first_k[biz] = k[: len(biz)]
    offset = np.concatenate([np.zeros(len(biz), dtype=np.int64), first_k[biz[second]]])
    k = np.minimum(k, len(cat.PRODUCTS) - offset)
    line_start = np.cumsum(k) - k
    base_chain = np.repeat(np.arange(n_chain), k)
    base_acct = chain_acct[base_chain]
    base_product = preference[base_acct, offset[base_chain] + within_group(k)]
    base_qty = np.maximum(np.round(_PRODUCT_QTY[base_product] * book.size[base_acct] ** 0.9
                                   * rng.lognormal(0, 0.5, len(base_chain))), 1)
    usd = _PRODUCT_PRICE[base_product] * rng.uniform(0.8, 1.2, len(base_chain)) \
        * (base_qty / _PRODUCT_QTY[base_product]) ** -0.05
    currency_of_line = book.currency[base_acct]
    monthly_unit = usd * cat.CURRENCY_RATES[currency_of_line]

    opps, lines, contracts = _Rows(), _Rows(), _Rows()

    def emit_lines(opp_rows: np.ndarray, chains: np.ndarray, qty_by_line: np.ndarray, service: np.ndarray,
                   term: np.ndarray, cover_start: np.ndarray, cover_end: np.ndarray) -> None:
        """One line per product of each chain, for the opportunity rows given."""
        idx, owner = expand(line_start[chains], k[chains])
        cur = currency_of_line[idx]
        unit = _round_money(monthly_unit[idx] * term[owner], cur)
        qty = qty_by_line[idx]
        lines.add(opp=opp_rows[owner], product=base_product[idx], qty=qty, unit=unit,
                  total=_round_money(qty * unit, cur), service=service[owner], term=term[owner],
                  cover_start=cover_start[owner], cover_end=cover_end[owner], service_id=idx)

    # --- contract periods, one iteration per renewal generation
    alive = np.ones(n_chain, dtype=bool)
    service = chain_start.copy()
    term = TERMS[choice(rng, TERM_WEIGHTS, n_chain)]
    close = service - rng.integers(0, 31, size=n_chain)
    created = (close - rng.integers(30, 181, size=n_chain)) * DAY + business_seconds(rng, n_chain)
    qty = base_qty.copy()
    for period in range(MAX_PERIODS):
        c = np.flatnonzero(alive)
        if len(c) == 0:
            break
        a = chain_acct[c]
        m = len(c)
        end = add_months(service[c], term[c])

        # The renewal cycle starts 120 days before the contract ends.
        due = end - 120 <= today
        ended = end <= today
        quoted = due & (ended | (rng.random(m) < RENEWAL_QUOTED[arch[a]]))
        probs = np.where((end > today - 180)[:, None], RENEWAL_RECENT[arch[a]], RENEWAL_EARLIER[arch[a]])
        outcome = choice_rows(rng, probs)
        r_close = np.select([outcome == 0, outcome == 1],
                            [end - rng.integers(1, 31, size=m), end + rng.integers(5, 76, size=m)],
                            end + rng.integers(-30, 31, size=m))
        is_open = quoted & (r_close > today)
        won = quoted & ~is_open & (outcome < 2)
        lost = quoted & ~is_open & (outcome == 2)
        r_close = np.where(is_open, np.clip(r_close, today + 1, today + 180), r_close)
        next_service = np.where(outcome == 0, end, r_close + rng.integers(0, 11, size=m))
        # Service runs to the contract end, or on to the renewal, or (renewal still open) past today.
        cover_end = np.select([won, is_open & ended], [next_service, add_months(np.full(m, today), 1)], end)

        kind = np.full(m, NEW_BUSINESS if period == 0 else RENEWAL)
        rows = opps.add(account=a, type=kind, stage=np.full(m, WON), close=close[c], created=created[c],
                        term=term[c])
        emit_lines(rows, c, qty, service[c], term[c], service[c], cover_end)
        contracts.add(opp=rows, start=service[c], term=term[c])

        # Upsells during the period add quantity on one product, co-terminous with the contract.
        up = rng.random(m) < UPSELL_CHANCE[arch[a]]
        u_close = service[c] + ((end - service[c]) * rng.uniform(0.2, 0.75, m)).astype(np.int64)
        up &= u_close <= today + 180
        if up.any():
            uc, ua, ucl = c[up], a[up], u_close[up]
            u_service = ucl + rng.integers(0, 31, size=len(uc))
            u_term = np.maximum(months_between(u_service, end[up]), 1)
            u_open = ucl > today
            u_won = ~u_open & (rng.random(len(uc)) < 0.8)
            stage = np.where(u_open, _open_stage(ucl, today), np.where(u_won, WON, LOST))
            u_created = (ucl - rng.integers(20, 91, size=len(uc))) * DAY + business_seconds(rng, len(uc))
            # The deal carries the contract's term; its line is billed for the months left (Term_Months__c).
            u_rows = opps.add(account=ua, type=np.full(len(uc), UPSELL), stage=stage, close=ucl, created=u_created,
                              term=term[uc])
            line = line_start[uc] + (rng.random(len(uc)) * k[uc]).astype(np.int64)
            add = np.ceil(qty[line] * rng.uniform(0.1, 0.4, len(uc)))
            cur = currency_of_line[line]
            unit = _round_money(monthly_unit[line] * u_term, cur)
            lines.add(opp=u_rows, product=base_product[line], qty=add, unit=unit, total=_round_money(add * unit, cur),
                      service=u_service, term=u_term, cover_start=np.where(u_won, u_service, -1),
                      cover_end=np.where(u_won, cover_end[up], -1), service_id=line)
            np.add.at(qty, line[u_won], add[u_won])

        # The next period's quantities, and the renewal quote for renewals not (yet) won.
        lo, hi = RENEWAL_GROWTH[arch[a]].T
        growth = rng.uniform(lo, hi)
        idx, owner = expand(line_start[c], k[c])
        qty[idx] = np.maximum(np.round(qty[idx] * growth[owner]), 1)
        monthly_unit[idx] *= rng.uniform(0.95, 1.03, len(idx))
        new_term = np.where(rng.random(m) < 0.7, term[c], TERMS[choice(rng, TERM_WEIGHTS, m)])
        r_created = (np.minimum(end - rng.integers(60, 121, size=m), r_close - 7)) * DAY + business_seconds(rng, m)
        pending = is_open | lost
        if pending.any():
            pc_ = np.flatnonzero(pending)
            stage = np.where(is_open[pc_], _open_stage(r_close[pc_], today), LOST)
            p_rows = opps.add(account=a[pc_], type=np.full(len(pc_), RENEWAL), stage=stage, close=r_close[pc_],
                              created=r_created[pc_], term=new_term[pc_])
            none = np.full(len(pc_), -1)
            emit_lines(p_rows, c[pc_], qty, next_service[pc_], new_term[pc_], none, none)

        alive[c] = won
        service[c] = np.where(won, next_service, service[c])
        term[c] = np.where(won, new_term, term[c])
        close[c] = np.where(won, r_close, close[c])
        created[c] = np.where(won, r_created, created[c])

    _pipeline(book, clock, rng, preference, opps, lines)
    opp_account = opps.col("account")
    # Open deals were opened in the past, however far away they close; and nothing is created
    # before its account (the account is created weeks before its first deal closes).
    recently = (today - rng.integers(1, 46, size=opps.n)) * DAY + business_seconds(rng, opps.n)
    opp_created = np.maximum(np.minimum(opps.col("created"), recently), book.created[opp_account] + 3600)
    line_opp = lines.col("opp")
    total = lines.col("total", float)
    amount = _round_money(np.bincount(line_opp, weights=total, minlength=opps.n),
                          book.currency[opp_account])
    return Deals(
        opp_account=opp_account, opp_type=opps.col("type"), opp_stage=opps.col("stage"),
        opp_close=opps.col("close"), opp_created=opp_created, opp_term=opps.col("term"), opp_amount=amount,
        line_opp=line_opp, line_product=lines.col("product"), line_qty=lines.col("qty", float),
        line_unit_price=lines.col("unit", float), line_total=total, line_service=lines.col("service"),
        line_term=lines.col("term"), line_cover_start=lines.col("cover_start"), line_cover_end=lines.col("cover_end"),
        line_service_id=lines.col("service_id"), service_account=base_acct, service_product=base_product,
        contract_opp=contracts.col("opp"), contract_start=contracts.col("start"), contract_term=contracts.col("term"),
        preference=preference,
    )


def _pipeline(book: Book, clock: Clock, rng: np.random.Generator, preference: np.ndarray, opps: _Rows,
              lines: _Rows) -> None:
    """New Business opportunities that were lost or are still open; every account without
    a won deal yet has one open."""
    today = clock.today
    count = rng.poisson(PIPELINE_RATE[book.archetype])
    count[book.no_business] = np.maximum(count[book.no_business], 1)
    acct = np.repeat(np.arange(book.n), count)
    m = len(acct)
    is_open = (rng.random(m) < np.where(book.archetype[acct] == GROWING, 0.5, 0.35)) | book.no_business[acct]
    earliest = book.created[acct] // DAY + 30
    close = np.where(is_open, today + rng.integers(7, 181, size=m),
                     np.maximum(today - rng.integers(1, 1001, size=m), earliest))
    close = np.where(is_open, close, np.minimum(close, today - 1))
    stage = np.where(is_open, _open_stage(close, today), LOST)
    term = TERMS[choice(rng, TERM_WEIGHTS, m)]
    created = np.maximum(close - rng.integers(20, 200, size=m), earliest - 29) * DAY + business_seconds(rng, m)
    rows = opps.add(account=acct, type=np.zeros(m, dtype=np.int64), stage=stage, close=close, created=created,
                    term=term)
    n_lines = 1 + (rng.random(m) < 0.35)
    owner = np.repeat(np.arange(m), n_lines)
    # A second line is a different product: step 1-7 places further along the preference order.
    first_pos = rng.integers(0, len(cat.PRODUCTS), size=m)
    step = rng.integers(1, len(cat.PRODUCTS), size=m)
    pos = (first_pos[owner] + within_group(n_lines) * step[owner]) % len(cat.PRODUCTS)
    product = preference[acct[owner], pos]
    a = acct[owner]
    qty = np.maximum(np.round(_PRODUCT_QTY[product] * book.size[a] ** 0.9 * rng.lognormal(0, 0.5, len(owner))), 1)
    cur = book.currency[a]
    unit = _round_money(_PRODUCT_PRICE[product] * rng.uniform(0.8, 1.2, len(owner)) * cat.CURRENCY_RATES[cur]
                        * term[owner], cur)
    none = np.full(len(owner), -1)
    service = close[owner] + rng.integers(0, 31, size=len(owner))
    lines.add(opp=rows[owner], product=product, qty=qty, unit=unit, total=_round_money(qty * unit, cur),
              service=service, term=term[owner], cover_start=none, cover_end=none, service_id=none)


# --------------------------------------------------------------------------- rendering


def product_table(clock: Clock, rng: np.random.Generator, pod: str) -> tuple[pa.Table, Stamps]:
    n = len(cat.PRODUCTS)
    created = (clock.today - 2000 + np.arange(n) * 3) * DAY + business_seconds(rng, n)
    stamps = record_stamps(rng, created, clock.now)
    table = pa.table({
        "Id": product_ids(pod),
        "IsDeleted": pa.repeat(False, n).cast(pa.bool_()),
        "CreatedDate": text.datetimes(stamps.created),
        "LastModifiedDate": text.datetimes(stamps.modified),
        "SystemModstamp": text.datetimes(stamps.system),
        "Name": text.vocab([p.name for p in cat.PRODUCTS]),
        "ProductCode": text.vocab([p.code for p in cat.PRODUCTS]),
        "Family": text.vocab([p.family for p in cat.PRODUCTS]),
        "IsActive": pa.repeat(True, n).cast(pa.bool_()),
    })
    return table, stamps


def product_ids(pod: str) -> pa.Array:
    return text.salesforce_ids("01t", np.arange(len(cat.PRODUCTS)) + 3001, pod)


def opportunity_ids(deals: Deals, rng: np.random.Generator, pod: str) -> pa.Array:
    return text.salesforce_ids("006", text.creation_rank(deals.opp_created) + int(rng.integers(10**6, 10**7)), pod)


def opportunity_table(book: Book, deals: Deals, opp_ids: pa.Array, user_ids: pa.Array, users_by_region: tuple[
        np.ndarray, np.ndarray], clock: Clock, rng: np.random.Generator) -> tuple[pa.Table, Stamps]:
    n = len(deals.opp_account)
    acct = deals.opp_account
    stage = deals.opp_stage
    closed = stage >= WON
    # Opportunity names: "<account> - <first product> <type>".
    # Lines are emitted right after their opportunity, so line_opp is sorted.
    product = deals.line_product[np.searchsorted(deals.line_opp, np.arange(n))]
    name = text.concat(book.name.take(pa.array(acct)), " - ",
                       text.pick(text.vocab([p.name for p in cat.PRODUCTS]), product), " ",
                       text.pick(text.vocab(OPPORTUNITY_TYPES), deals.opp_type))
    # Someone else in the region sometimes owns the deal.
    region = cat.COUNTRY_REGION[book.country[acct]]
    start, count = users_by_region
    other = start[region] + (rng.random(n) * count[region]).astype(np.int64)
    owner = np.where(rng.random(n) < 0.9, book.owner[acct], other)
    # A missing term means the configured default of 12 months, so only 12-month deals leave it blank.
    term_missing = (deals.opp_term == 12) & (rng.random(n) < 0.08)
    touched = np.where(closed, deals.opp_close * DAY + business_seconds(rng, n), 0)
    stamps = record_stamps(rng, deals.opp_created, clock.now, touched)
    table = pa.table({
        "Id": opp_ids,
        "IsDeleted": pa.repeat(False, n).cast(pa.bool_()),
        "CreatedDate": text.datetimes(stamps.created),
        "LastModifiedDate": text.datetimes(stamps.modified),
        "SystemModstamp": text.datetimes(stamps.system),
        "AccountId": book.ids.take(pa.array(acct)),
        "Name": name,
        "Type": text.pick(text.vocab(OPPORTUNITY_TYPES), deals.opp_type),
        "StageName": text.pick(text.vocab(STAGES), stage),
        "Amount": pa.array(deals.opp_amount),
        "CurrencyIsoCode": text.pick(text.vocab(cat.CURRENCIES), book.currency[acct]),
        "CloseDate": text.dates(deals.opp_close),
        "Probability": pa.array(PROBABILITY[stage]),
        "IsClosed": pa.array(closed),
        "IsWon": pa.array(stage == WON),
        "ContractTerm__c": pa.array(deals.opp_term.astype(float), mask=term_missing),
        "OwnerId": user_ids.take(pa.array(owner)),
    })
    return table, stamps


def line_item_table(book: Book, deals: Deals, opp_ids: pa.Array, opp_table: pa.Table, clock: Clock,
                    rng: np.random.Generator, pod: str) -> tuple[pa.Table, Stamps]:
    n = len(deals.line_opp)
    opp = deals.line_opp
    acct = deals.opp_account[opp]
    created = deals.opp_created[opp] + rng.integers(60, 3 * 3600, size=n)
    ids = text.salesforce_ids("00k", text.creation_rank(created) + int(rng.integers(10**6, 10**7)), pod)
    # Lines on the opportunity's own term may leave Term_Months__c blank; upsell lines never do.
    same_term = deals.line_term == deals.opp_term[opp]
    term_missing = same_term & (rng.random(n) < 0.15)
    closed = deals.opp_stage[opp] >= WON
    touched = np.where(closed, deals.opp_close[opp] * DAY + business_seconds(rng, n), 0)
    stamps = record_stamps(rng, created, clock.now, touched)
    opp_names = opp_table.column("Name").take(pa.array(opp))
    product_names = text.pick(text.vocab([p.name for p in cat.PRODUCTS]), deals.line_product)
    table = pa.table({
        "Id": ids,
        "IsDeleted": pa.repeat(False, n).cast(pa.bool_()),
        "CreatedDate": text.datetimes(stamps.created),
        "LastModifiedDate": text.datetimes(stamps.modified),
        "SystemModstamp": text.datetimes(stamps.system),
        "OpportunityId": opp_ids.take(pa.array(opp)),
        "Product2Id": product_ids(pod).take(pa.array(deals.line_product)),
        "ProductCode": text.pick(text.vocab([p.code for p in cat.PRODUCTS]), deals.line_product),
        "Name": text.concat(opp_names, " ", product_names),
        "Quantity": pa.array(deals.line_qty),
        "UnitPrice": pa.array(deals.line_unit_price),
        "TotalPrice": pa.array(deals.line_total),
        "CurrencyIsoCode": text.pick(text.vocab(cat.CURRENCIES), book.currency[acct]),
        "ServiceDate": text.dates(deals.line_service),
        "Term_Months__c": pa.array(deals.line_term.astype(float), mask=term_missing),
    })
    return table, stamps


def contract_table(book: Book, deals: Deals, clock: Clock, rng: np.random.Generator,
                   pod: str) -> tuple[pa.Table, Stamps]:
    n = len(deals.contract_opp)
    today = clock.today
    acct = deals.opp_account[deals.contract_opp]
    start = deals.contract_start
    end = add_months(start, deals.contract_term) - 1  # Salesforce EndDate is inclusive
    status = np.select([start > today, end < today], [0, 2], 1)
    created = (deals.opp_close[deals.contract_opp] + rng.integers(0, 4, size=n)) * DAY + business_seconds(rng, n)
    rank = text.creation_rank(created)
    stamps = record_stamps(rng, created, clock.now)
    table = pa.table({
        "Id": text.salesforce_ids("800", rank + int(rng.integers(10**5, 10**6)), pod),
        "IsDeleted": pa.repeat(False, n).cast(pa.bool_()),
        "CreatedDate": text.datetimes(stamps.created),
        "LastModifiedDate": text.datetimes(stamps.modified),
        "SystemModstamp": text.datetimes(stamps.system),
        "AccountId": book.ids.take(pa.array(acct)),
        "ContractNumber": text.numbers(rank + 100, 8),
        "Status": text.pick(text.vocab(("Draft", "Activated", "Expired")), status),
        "StartDate": text.dates(start),
        "EndDate": text.dates(end),
        "ContractTerm": pa.array(deals.contract_term.astype(float)),
    })
    return table, stamps


