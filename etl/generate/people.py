"""Users (the account team) and Contacts (the customer's people).

Contacts carry the evidence a linker uses across regional accounts: the
same group CIO (same email and/or phone) can appear on two accounts of one
multinational, while shared mailboxes (info@, billing@) and freemail
addresses are the noise around it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from etl.generate import catalogue as cat
from etl.generate import text
from etl.generate.common import DAY, Clock, Stamps, business_seconds, choice, record_stamps, within_group
from etl.generate.companies import Book


def _pooled(pools: dict[str, tuple[str, ...]]) -> tuple[pa.Array, pa.Array, np.ndarray, np.ndarray]:
    names = [name for pool in cat.NAME_POOLS for name in pools[pool]]
    count = np.array([len(pools[pool]) for pool in cat.NAME_POOLS])
    return text.vocab(names), text.vocab([cat.email_local(x) for x in names]), np.cumsum(count) - count, count


_FIRST, _FIRST_ASCII, _FIRST_START, _FIRST_COUNT = _pooled(cat.FIRST_NAMES)
_LAST, _LAST_ASCII, _LAST_START, _LAST_COUNT = _pooled(cat.LAST_NAMES)
# Account-team name pools by region (AMER, EMEA, APAC).
_REGION_POOLS = np.array([[cat.NAME_POOLS.index(p) for p in row] for row in (
    ("en", "en", "en", "es", "pt"), ("en", "de", "fr", "it", "nl"), ("en", "en", "ja", "in", "zh"))])


def _draw_names(rng: np.random.Generator, pool: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    u = rng.random((2, len(pool)))
    first = _FIRST_START[pool] + (u[0] * _FIRST_COUNT[pool]).astype(np.int64)
    last = _LAST_START[pool] + (u[1] * _LAST_COUNT[pool]).astype(np.int64)
    return first, last


@dataclass
class Users:
    region: np.ndarray
    region_start: np.ndarray  # first user number of each region
    region_count: np.ndarray
    created: np.ndarray
    ids: pa.Array

    @property
    def n(self) -> int:
        return len(self.region)


def plan_users(n_accounts: int, rng: np.random.Generator, clock: Clock, pod: str) -> Users:
    """About one account owner per 75 accounts (at least 5), spread over the regions like the book."""
    n = max(5, round(n_accounts / 75))
    share = np.bincount(cat.COUNTRY_REGION, weights=cat.COUNTRY_WEIGHTS, minlength=len(cat.REGIONS))
    ideal = share / share.sum() * n
    count = np.maximum(np.floor(ideal).astype(np.int64), 1)
    while count.sum() < n:  # largest remainder; at most len(REGIONS) steps
        count[np.argmax(ideal - count)] += 1
    while count.sum() > n:
        count[np.argmax(count)] -= 1
    region = np.repeat(np.arange(len(cat.REGIONS)), count)
    created = (clock.today - rng.integers(400, 2500, size=n)) * DAY + business_seconds(rng, n)
    ids = text.salesforce_ids("005", text.creation_rank(created) + int(rng.integers(10_000, 90_000)), pod)
    return Users(region, np.cumsum(count) - count, count, created, ids)


def user_table(users: Users, clock: Clock, rng: np.random.Generator) -> tuple[pa.Table, Stamps]:
    n = users.n
    pool = _REGION_POOLS[users.region, rng.integers(0, _REGION_POOLS.shape[1], size=n)]
    first, last = _draw_names(rng, pool)
    # Two people with the same name get numbered addresses, as mail systems do.
    dup = pd.Series(first * 100_000 + last).groupby(first * 100_000 + last).cumcount().to_numpy()
    suffix = pc.if_else(pa.array(dup > 0), pc.cast(pa.array(dup + 1), pa.string()), "")
    email = text.concat(_FIRST_ASCII.take(pa.array(first)), ".", _LAST_ASCII.take(pa.array(last)), suffix,
                        "@", cat.SELLER_DOMAIN)
    stamps = record_stamps(rng, users.created, clock.now)
    table = pa.table({
        "Id": users.ids,
        "IsDeleted": pa.repeat(False, n).cast(pa.bool_()),
        "CreatedDate": text.datetimes(stamps.created),
        "LastModifiedDate": text.datetimes(stamps.modified),
        "SystemModstamp": text.datetimes(stamps.system),
        "Name": text.concat(_FIRST.take(pa.array(first)), " ", _LAST.take(pa.array(last))),
        "Email": email,
        "IsActive": pa.array(rng.random(n) > 0.04),
        "UserRoleName": text.pick(text.vocab(cat.USER_ROLES), choice(rng, np.array([5, 3, 1, 2]), n)),
    })
    return table, stamps


PERSON, MAILBOX, FREEMAIL = 0, 1, 2


@dataclass
class Contacts:
    account: np.ndarray  # account number of each contact
    start: np.ndarray  # per account: number of its first contact
    count: np.ndarray  # per account: how many contacts it has
    kind: np.ndarray  # PERSON / MAILBOX / FREEMAIL
    created: np.ndarray
    ids: pa.Array

    @property
    def n(self) -> int:
        return len(self.account)

    def pick(self, account: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A random contact of each given account (every account has at least three)."""
        return self.start[account] + (rng.random(len(account)) * self.count[account]).astype(np.int64)


def plan_contacts(book: Book, rng: np.random.Generator, clock: Clock, pod: str) -> Contacts:
    """3-8 contacts per account, more at bigger customers; the first is always a person."""
    count = np.clip(3 + rng.poisson(1.2 * book.size ** 0.4), 3, 8)
    start = np.cumsum(count) - count
    account = np.repeat(np.arange(book.n), count)
    slot = within_group(count)
    kind = np.where(slot == 0, PERSON, choice(rng, np.array([0.87, 0.08, 0.05]), len(account)))
    acc_created = book.created[account]
    span = np.maximum(clock.now - acc_created, 3600)
    created = acc_created + (rng.beta(0.8, 2.5, len(account)) * span).astype(np.int64)
    ids = text.salesforce_ids("003", text.creation_rank(created) + int(rng.integers(1_000_000, 9_000_000)), pod)
    return Contacts(account, start, count, kind, created, ids)


def is_primary(contacts: Contacts) -> np.ndarray:
    """Each account's first contact: always a person, the one assets and group links point at."""
    return within_group(contacts.count) == 0


def contact_table(book: Book, contacts: Contacts, last_activity: np.ndarray, first_touch: np.ndarray, clock: Clock,
                  rng: np.random.Generator) -> tuple[pa.Table, Stamps]:
    """Contact rows; ``last_activity`` is each contact's latest past activity day (-1 if none) and
    ``first_touch`` its earliest case or activity: the contact was created before it."""
    n = contacts.n
    acct = contacts.account
    first, last = _draw_names(rng, cat.COUNTRY_NAME_POOL[book.country[acct]])
    u = rng.random((8, n))
    person = contacts.kind != MAILBOX

    # Email local parts: first.last, f.last, firstlast, first_last, first, flast.
    fmt = choice(rng, np.array([55, 15, 10, 5, 5, 10]), n)
    fa, la = _FIRST_ASCII.take(pa.array(first)), _LAST_ASCII.take(pa.array(last))
    initial = pc.utf8_slice_codeunits(fa, 0, 1)
    head = text.where(np.isin(fmt, (1, 5)), initial, fa)
    sep = text.pick(text.vocab([".", ".", "", "_", "", ""]), fmt)
    tail = text.where(fmt == 4, "", la)
    domain = book.domain.take(pa.array(acct))
    box = (u[0] * len(cat.MAILBOXES)).astype(np.int64)
    free = text.concat(fa, ".", la, pc.cast(pa.array(rng.integers(1, 99, size=n)), pa.string()), "@",
                       text.pick(text.vocab(cat.FREEMAIL), (u[1] * len(cat.FREEMAIL)).astype(np.int64)))
    email = text.where(contacts.kind == FREEMAIL, free, text.concat(head, sep, tail, "@", domain))
    email = text.where(contacts.kind == MAILBOX,
                       text.concat(text.pick(text.vocab([m[1] for m in cat.MAILBOXES]), box), "@", domain), email)
    email = text.where(u[2] < 0.04, pc.utf8_title(email), email)
    email = text.where(u[3] < 0.03, None, email)

    city = book.city[acct]
    slot = within_group(contacts.count)
    shared = book.shared_contact[acct] * (slot == 0)
    source = contacts.start[book.head[acct]]
    # A number shared with a regional account abroad is written in international form.
    dialled_abroad = np.zeros(n, bool)
    dialled_abroad[source[np.isin(shared, (1, 3))]] = True
    phone_tpl = np.where(dialled_abroad, cat.CITY_INTL_TEMPLATE[city],
                         cat.CITY_PHONE_START[city] + (u[4] * cat.CITY_PHONE_COUNT[city]).astype(np.int64))
    phone = text.fill_templates(cat.PHONE_TEMPLATES, phone_tpl, rng)
    # The first contact always has a direct line: it may be the group contact whose phone is shared.
    phone = text.where((slot > 0) & (u[5] < np.where(person, 0.25, 0.7)), None, phone)
    first_name = text.where(~person, None, _FIRST.take(pa.array(first)))
    last_name = text.where(~person, text.pick(text.vocab([m[0] for m in cat.MAILBOXES]), box),
                           _LAST.take(pa.array(last)))
    title = text.pick(text.vocab(cat.TITLES), choice(rng, cat.TITLE_WEIGHTS, n), valid=person & (u[6] > 0.05))

    # The group contact of a multinational: the head account's first contact reappears.
    name_from = np.where(np.isin(shared, (1, 2)), source, np.arange(n))
    phone_from = np.where(np.isin(shared, (1, 3)), source, np.arange(n))
    first_name, last_name, email, title = (a.take(pa.array(name_from)) for a in (first_name, last_name, email, title))
    phone = phone.take(pa.array(phone_from))

    before_touch = np.minimum(contacts.created, first_touch - rng.integers(3600, 10 * DAY, size=n))
    created = np.maximum(before_touch, book.created[acct] + 60)
    stamps = record_stamps(rng, created, clock.now)
    table = pa.table({
        "Id": contacts.ids,
        "IsDeleted": pa.repeat(False, n).cast(pa.bool_()),
        "CreatedDate": text.datetimes(stamps.created),
        "LastModifiedDate": text.datetimes(stamps.modified),
        "SystemModstamp": text.datetimes(stamps.system),
        "AccountId": book.ids.take(pa.array(acct)),
        "FirstName": first_name,
        "LastName": last_name,
        "Email": email,
        "Phone": phone,
        "Title": title,
        "LastActivityDate": text.dates(last_activity, valid=last_activity >= 0),
    })
    return table, stamps
