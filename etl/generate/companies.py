"""Accounts and the global companies behind them.

A *company* is the real-world customer; an *account* is one Salesforce
record for it.  Most companies have one account.  Multinationals have 2-5
regional accounts in different countries whose legal names vary the way
real CRM data does ("Acme Telecom GmbH", "ACME Telecommunications Ltd",
"Acme Telecom (Schweiz) AG"); domestic families have an HQ and subsidiaries
pointing at it through ParentId.  Decoys are different companies with
similar names.  The mapping account -> company is the linker's ground truth
and never goes to bronze.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import gcd

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from etl.generate import catalogue as cat
from etl.generate import text
from etl.generate.common import DAY, Clock, Stamps, business_seconds, choice, record_stamps, within_group

SINGLE, MULTINATIONAL, DOMESTIC = 0, 1, 2
ARCHETYPE_SHARES = np.array([0.34, 0.26, 0.23, 0.17])  # growing, stable, at-risk, churning
MULTINATIONAL_SHARE = 0.12  # of accounts
DOMESTIC_SHARE = 0.04
DECOY_SHARE = 0.03  # of single-account companies

# Name vocabularies as Arrow arrays, with start/count tables for variant forms.
_BRANDS = text.vocab(cat.BRANDS + cat.NEAR_BRANDS)
_N_BRANDS = len(cat.BRANDS)
_TAIL_SLOTS: tuple[str | None, ...] = (None, None, None, "Group", "Holdings", "International", "Global", "Partners")


def _forms(canonical: list[str | None], variants: dict[str, tuple[str, ...]]) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    flat: list[str | None] = []
    start, count = [], []
    for word in canonical:
        forms = [word] + (list(variants.get(word, ())) if word else [])
        start.append(len(flat))
        count.append(len(forms))
        flat += forms
    return text.vocab(flat), np.array(start), np.array(count)


_DESC_FORMS, _DESC_START, _DESC_COUNT = _forms([d for ds in cat.DESCRIPTORS for d in ds], cat.DESCRIPTOR_VARIANTS)
_TAIL_FORMS, _TAIL_START, _TAIL_COUNT = _forms(list(_TAIL_SLOTS), cat.TAIL_VARIANTS)
_LEGAL = text.vocab([f for c in cat.COUNTRIES for f in c.legal_forms])
_LEGAL_COUNT = np.array([len(c.legal_forms) for c in cat.COUNTRIES])
_LEGAL_START = np.cumsum(_LEGAL_COUNT) - _LEGAL_COUNT
_QUALIFIERS = text.vocab([c.qualifier for c in cat.COUNTRIES])
_TLDS = text.vocab([c.tld for c in cat.COUNTRIES])
_DIVISIONS = text.vocab(cat.DIVISIONS)
# BillingCountry as users type it: the ISO code, the full name, or the code in odd case.
_COUNTRY_FORMS = text.vocab(
    [c.code for c in cat.COUNTRIES]
    + [c.name for c in cat.COUNTRIES]
    + [c.code.lower() for c in cat.COUNTRIES]
    + [c.code.title() for c in cat.COUNTRIES]
)
_REVENUE_PER_EMPLOYEE = np.array([450, 250, 220, 180, 200, 120, 260, 500, 320, 90, 160, 380], dtype=float) * 1000


@dataclass
class Book:
    """Per-account attributes every other table draws on; index = account number."""

    company: np.ndarray  # global company number
    member: np.ndarray  # position within the company (0 = its head account)
    head: np.ndarray  # account number of the company's head account
    kind: np.ndarray  # SINGLE / MULTINATIONAL / DOMESTIC, per account
    country: np.ndarray
    currency: np.ndarray
    industry: np.ndarray
    archetype: np.ndarray
    size: np.ndarray  # relative spend, median ~1, heavy right tail
    city: np.ndarray  # index into catalogue.CITY_NAMES
    parent: np.ndarray  # account number or -1
    owner: np.ndarray  # user number
    since: np.ndarray  # day the first service started
    created: np.ndarray  # seconds
    no_business: np.ndarray  # no won deal yet (only an open New Business opportunity)
    no_billing: np.ndarray  # billed outside the billing feed
    no_usage: np.ndarray  # services the mediation platform does not meter
    no_cases: np.ndarray
    no_activities: np.ndarray
    shared_contact: np.ndarray  # 0 none; 1 email+phone, 2 email, 3 phone shared with the head account
    name: pa.Array
    domain: pa.Array
    company_name: pa.Array  # canonical name, per company number
    ids: pa.Array

    @property
    def n(self) -> int:
        return len(self.company)


def _group_sizes(rng: np.random.Generator, budget: int, sizes: list[int], probs: list[float]) -> np.ndarray:
    """Company sizes filling about ``budget`` accounts."""
    if budget < min(sizes):
        return np.zeros(0, dtype=np.int64)
    draws = rng.choice(sizes, size=budget // min(sizes) + 1, p=probs)
    keep = np.cumsum(draws) <= budget
    return draws[keep]


def _coprime_multiplier(rng: np.random.Generator, space: int) -> int:
    """A multiplier making rank -> (rank * m + offset) % space a bijection: no two ranks share a code."""
    m = int(rng.integers(space // 3, space // 2)) | 1
    while gcd(m, space) != 1:
        m += 2
    return m


def plan_accounts(n: int, rng: np.random.Generator, clock: Clock, user_region_start: np.ndarray,
                  user_region_count: np.ndarray, pod: str) -> Book:
    """Decide every account's company, place, size, behaviour and name."""
    # --- companies and their sizes
    multi = _group_sizes(rng, int(n * MULTINATIONAL_SHARE), [2, 3, 4, 5], [0.45, 0.30, 0.15, 0.10])
    domestic = _group_sizes(rng, int(n * DOMESTIC_SHARE), [2, 3, 4], [0.6, 0.3, 0.1])
    singles = n - multi.sum() - domestic.sum()
    comp_size = np.concatenate([multi, domestic, np.ones(singles, dtype=np.int64)])
    comp_kind = np.concatenate([np.full(len(multi), MULTINATIONAL), np.full(len(domestic), DOMESTIC),
                                np.full(singles, SINGLE)])
    n_comp = len(comp_size)
    company = np.repeat(np.arange(n_comp), comp_size)
    member = within_group(comp_size)
    comp_head = np.cumsum(comp_size) - comp_size
    head = comp_head[company]
    kind = comp_kind[company]

    # --- industry and a name stem (brand, descriptor, tail), numbered within the industry so stems rarely repeat
    comp_industry = choice(rng, cat.INDUSTRY_WEIGHTS, n_comp)
    order = np.argsort(comp_industry, kind="stable")
    counts = np.bincount(comp_industry, minlength=len(cat.INDUSTRIES))
    rank = np.empty(n_comp, dtype=np.int64)
    rank[order] = within_group(counts)
    space = _N_BRANDS * 10 * len(_TAIL_SLOTS)
    mult = _coprime_multiplier(rng, space)
    code = (rank * mult + rng.integers(0, space, size=len(cat.INDUSTRIES))[comp_industry]) % space
    brand = code % _N_BRANDS
    desc = (code // _N_BRANDS) % 10
    tail = code // (_N_BRANDS * 10)

    # --- decoys: another company's brand (or a one-vowel variant of it) on a different business
    candidates = np.flatnonzero(comp_kind == SINGLE)
    decoys = rng.choice(candidates, size=int(len(candidates) * DECOY_SHARE), replace=False) if len(candidates) else candidates
    multis = np.flatnonzero(comp_kind == MULTINATIONAL)
    any_target = rng.integers(0, n_comp, size=len(decoys))
    multi_target = multis[rng.integers(0, len(multis), size=len(decoys))] if len(multis) else any_target
    targets = np.where(rng.random(len(decoys)) < 0.7, multi_target, any_target)
    targets = np.where(targets == decoys, (targets + 1) % n_comp, targets)
    near = rng.random(len(decoys)) < 0.5
    brand[decoys] = brand[targets] + np.where(near, _N_BRANDS, 0)
    clash = ~near & (comp_industry[decoys] == comp_industry[targets]) & (desc[decoys] == desc[targets])
    desc[decoys[clash]] = (desc[decoys[clash]] + 1) % 10

    # --- countries: regional accounts of a multinational are in distinct countries
    comp_country = choice(rng, cat.COUNTRY_WEIGHTS, n_comp)
    country = comp_country[company]
    multi_acc = np.flatnonzero(kind == MULTINATIONAL)
    if len(multi_acc):
        n_multi = len(multi)
        keys = np.log(cat.COUNTRY_WEIGHTS)[None, :] + rng.gumbel(size=(n_multi, len(cat.COUNTRIES)))
        ranked = np.argsort(-keys, axis=1)
        country[multi_acc] = ranked[company[multi_acc], member[multi_acc]]
    same_country = rng.random(len(decoys)) < 0.5
    country[comp_head[decoys[same_country]]] = country[comp_head[targets[same_country]]]
    currency = cat.COUNTRY_CURRENCY[country]

    # --- size and behaviour
    comp_scale = rng.lognormal(0.0, 1.0, n_comp) * np.where(comp_kind == MULTINATIONAL, 2.0, 1.0)
    size = comp_scale[company] * rng.lognormal(0.0, 0.4, n) * np.where((kind == DOMESTIC) & (member > 0), 0.5, 1.0)
    archetype = choice(rng, ARCHETYPE_SHARES, n)
    city = cat.COUNTRY_CITY_START[country] + (rng.random(n) * cat.COUNTRY_CITY_COUNT[country]).astype(np.int64)
    subsidiary = (kind == DOMESTIC) & (member > 0)
    same_city = subsidiary & (rng.random(n) < 0.5)
    city[same_city] = city[head[same_city]]

    # --- hierarchy: domestic subsidiaries always, and some multinationals, point at the head account
    comp_shares_parent = (comp_kind == MULTINATIONAL) & (rng.random(n_comp) < 0.3)
    parent = np.where((member > 0) & ((kind == DOMESTIC) | comp_shares_parent[company]), head, -1)
    comp_shares_contact = np.where((comp_kind == MULTINATIONAL) & (rng.random(n_comp) < 0.5),
                                   choice(rng, np.array([0.5, 0.25, 0.25]), n_comp) + 1, 0)
    shared_contact = np.where(member > 0, comp_shares_contact[company], 0)

    # --- owners: a user of the account's region; a multinational often has one global account manager
    region = cat.COUNTRY_REGION[country]
    owner = user_region_start[region] + (rng.random(n) * user_region_count[region]).astype(np.int64)
    global_manager = (kind == MULTINATIONAL) & (member > 0) & (rng.random(n) < 0.4)
    owner[global_manager] = owner[head[global_manager]]

    # --- customer since, and when the account record was created
    u = rng.random(n)
    no_business = u < 0.015
    since = clock.today - (60 + 1035 * rng.beta(2.2, 1.3, n)).astype(np.int64)
    since[no_business] = clock.today - rng.integers(10, 200, size=int(no_business.sum()))
    created = (since - rng.integers(40, 400, size=n)) * DAY + business_seconds(rng, n)

    flags = rng.random((4, n))
    names, domains, company_names = _names(rng, company, member, kind, country, comp_industry, brand, desc, tail)
    return Book(
        company=company, member=member, head=head, kind=kind, country=country, currency=currency,
        industry=comp_industry[company], archetype=archetype, size=size, city=city, parent=parent, owner=owner,
        since=since, created=created, no_business=no_business, no_billing=flags[0] < 0.02,
        no_usage=flags[1] < 0.03, no_cases=flags[2] < 0.03, no_activities=flags[3] < 0.02,
        shared_contact=shared_contact, name=names, domain=domains, company_name=company_names,
        ids=text.salesforce_ids("001", text.creation_rank(created) + int(rng.integers(1_000_000, 5_000_000)), pod),
    )


def _names(rng: np.random.Generator, company: np.ndarray, member: np.ndarray, kind: np.ndarray, country: np.ndarray,
           comp_industry: np.ndarray, brand: np.ndarray, desc: np.ndarray, tail: np.ndarray
           ) -> tuple[pa.Array, pa.Array, pa.Array]:
    """Legal names per account, email domains per account, canonical names per company."""
    n = len(company)
    desc_word = comp_industry * 10 + desc
    canonical = text.concat(
        text.pick(_BRANDS, brand), " ", text.pick(_DESC_FORMS, _DESC_START[desc_word]),
        text.optional(" ", text.pick(_TAIL_FORMS, _TAIL_START[tail])),
    )

    # Regional accounts of one company write the same name differently.
    regional = (kind == MULTINATIONAL) & (member > 0)
    u = rng.random((7, n))
    acc_brand = text.pick(_BRANDS, brand[company])
    upper = (regional & (u[0] < 0.10)) | (u[0] < 0.01)
    acc_brand = text.where(upper, pc.utf8_upper(acc_brand), acc_brand)
    dw = desc_word[company]
    dvar = np.where(regional & (u[1] < 0.35) & (_DESC_COUNT[dw] > 1),
                    1 + (u[2] * (_DESC_COUNT[dw] - 1)).astype(np.int64), 0)
    acc_desc = text.pick(_DESC_FORMS, _DESC_START[dw] + dvar)
    tw = tail[company]
    tvar = np.where(regional & (u[3] < 0.25) & (_TAIL_COUNT[tw] > 1),
                    1 + (u[4] * (_TAIL_COUNT[tw] - 1)).astype(np.int64), 0)
    drop_tail = regional & (u[3] > 0.8)
    acc_tail = text.pick(_TAIL_FORMS, _TAIL_START[tw] + tvar, valid=~drop_tail)
    qualifier = text.pick(_QUALIFIERS, country, valid=regional & (u[5] < 0.35))
    subsidiary = (kind == DOMESTIC) & (member > 0)
    division = text.pick(_DIVISIONS, (u[6] * len(cat.DIVISIONS)).astype(np.int64), valid=subsidiary)
    legal_rank = np.minimum(choice(rng, np.array([0.55, 0.25, 0.12, 0.08]), n), _LEGAL_COUNT[country] - 1)
    legal = text.pick(_LEGAL, _LEGAL_START[country] + legal_rank)
    comma = rng.random(n) < 0.08
    names = text.concat(
        acc_brand, " ", acc_desc, text.optional(" ", acc_tail), text.optional(" ", qualifier),
        text.optional(" ", division), text.where(comma, ", ", pa.repeat(" ", n).cast(pa.string())), legal,
    )

    # One domain per company; multinationals either share the .com or use a country domain each.
    key = pc.replace_substring_regex(pc.utf8_lower(text.concat(
        text.pick(_BRANDS, brand), text.pick(_DESC_FORMS, _DESC_START[desc_word]))), "[^a-z0-9]", "")
    comp_global_domain = rng.random(len(brand)) < 0.5
    tld = text.pick(_TLDS, country)
    use_com = (comp_global_domain[company] & (kind == MULTINATIONAL)) | (pc.equal(tld, "com").to_numpy(zero_copy_only=False))
    domains = text.concat(key.take(pa.array(company)), ".", text.where(use_com, "com", tld))
    return names, domains, canonical


def account_table(book: Book, user_ids: pa.Array, clock: Clock, rng: np.random.Generator) -> tuple[pa.Table, Stamps]:
    """The Account object as the REST API returns it."""
    n = book.n
    u = rng.random((6, n))
    form = np.select([u[0] < 0.84, u[0] < 0.94, u[0] < 0.97], [0, 1, 2], 3)
    billing_country = text.pick(_COUNTRY_FORMS, form * len(cat.COUNTRIES) + book.country)
    phone_tpl = cat.CITY_PHONE_START[book.city] + (u[1] * cat.CITY_PHONE_COUNT[book.city]).astype(np.int64)
    phones = text.fill_templates(cat.PHONE_TEMPLATES, phone_tpl, rng)
    phones = text.where(u[2] < 0.04, None, phones)
    web = text.concat(text.where(u[3] < 0.06, "https://www.", pa.repeat("www.", n).cast(pa.string())), book.domain)
    web = text.where(u[3] > 0.96, None, web)
    employees = np.exp(np.log(45.0) + 1.3 * np.log(book.size) + rng.normal(0, 0.35, n)).clip(5, 400_000)
    employees = np.where(employees > 100, np.round(employees, -1), np.round(employees))
    revenue_usd = employees * _REVENUE_PER_EMPLOYEE[book.industry] * rng.lognormal(0, 0.3, n)
    revenue = revenue_usd * cat.CURRENCY_RATES[book.currency]
    step = np.where(book.currency == cat.CURRENCIES.index("JPY"), 1e6, 1e4)
    revenue = np.maximum(np.round(revenue / step), 1) * step
    stamps = record_stamps(rng, book.created, clock.now)
    table = pa.table({
        "Id": book.ids,
        "IsDeleted": pa.repeat(False, n).cast(pa.bool_()),
        "CreatedDate": text.datetimes(stamps.created),
        "LastModifiedDate": text.datetimes(stamps.modified),
        "SystemModstamp": text.datetimes(stamps.system),
        "Name": book.name,
        "ParentId": book.ids.take(pa.array(book.parent, mask=book.parent < 0)),
        "Type": pa.repeat("Customer", n).cast(pa.string()),
        "Industry": text.pick(text.vocab(cat.INDUSTRIES), book.industry),
        "BillingCountry": billing_country,
        "BillingCity": text.pick(text.vocab(cat.CITY_NAMES), book.city),
        "Phone": phones,
        "Website": web,
        "NumberOfEmployees": pa.array(employees, mask=u[4] < 0.10),
        "AnnualRevenue": pa.array(revenue, mask=u[5] < 0.15),
        "CurrencyIsoCode": text.pick(text.vocab(cat.CURRENCIES), book.currency),
        "OwnerId": user_ids.take(pa.array(book.owner)),
    })
    return table, stamps


def ground_truth_links(book: Book) -> pa.Table:
    """account_id -> global_company_id and canonical company name: what a perfect linker finds."""
    return pa.table({
        "account_id": book.ids,
        "global_company_id": text.numbers(book.company, 7, "GC"),
        "company_name": book.company_name.take(pa.array(book.company)),
    })
