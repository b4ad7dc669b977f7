"""Asset: the services installed at each customer (a mobile fleet, an SD-WAN
estate, a contact centre), one per product of a won deal chain.

An asset is installed when its first line's service starts, carries the
quantity and unit price of its latest New Business or Renewal line, and is
Obsolete once its last contract period has run out.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from etl.generate import catalogue as cat
from etl.generate import text
from etl.generate.common import DAY, Clock, Stamps, business_seconds, record_stamps
from etl.generate.companies import Book
from etl.generate.people import Contacts
from etl.generate.sales import UPSELL, Deals, product_ids

STATUSES = ("Purchased", "Shipped", "Installed", "Obsolete")
PURCHASED, SHIPPED, INSTALLED, OBSOLETE = range(4)


def _first_and_last(group: np.ndarray, key: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For rows grouped by ``group``: the groups, and the row with the smallest and largest key in each."""
    order = np.lexsort((key, group))
    g = group[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    ends = np.r_[starts[1:], len(g)] - 1
    return g[starts], order[starts], order[ends]


def asset_table(book: Book, deals: Deals, contacts: Contacts, clock: Clock, rng: np.random.Generator,
                pod: str) -> tuple[pa.Table, Stamps]:
    today = clock.today
    won = np.flatnonzero((deals.line_cover_start >= 0) & (deals.line_service_id >= 0))
    sid = deals.line_service_id[won]
    until = np.full(len(deals.service_account), -1)
    np.maximum.at(until, sid, deals.line_cover_end[won])
    contracted = won[deals.opp_type[deals.line_opp[won]] != UPSELL]
    services, first, latest = _first_and_last(deals.line_service_id[contracted], deals.line_service[contracted])
    first, latest = contracted[first], contracted[latest]

    n = len(services)
    acct = deals.service_account[services]
    product = deals.service_product[services]
    install = deals.line_service[first]
    purchase = deals.opp_close[deals.line_opp[first]]
    end = until[services]
    status = np.select([end <= today, install > today + 30, install > today], [OBSOLETE, PURCHASED, SHIPPED],
                       INSTALLED)
    # Linked to the account's primary (first) contact, which is never deleted.
    contact = np.where(rng.random(n) < 0.7, contacts.start[acct], -1)
    created = (purchase + rng.integers(1, 11, size=n)) * DAY + business_seconds(rng, n)
    touched = np.where(status == OBSOLETE, end * DAY + business_seconds(rng, n), install * DAY)
    stamps = record_stamps(rng, created, clock.now, touched)
    codes = text.vocab([p.code for p in cat.PRODUCTS]).take(pa.array(product))
    table = pa.table({
        "Id": text.salesforce_ids("02i", text.creation_rank(created) + int(rng.integers(10**5, 10**6)), pod),
        "IsDeleted": pa.repeat(False, n).cast(pa.bool_()),
        "CreatedDate": text.datetimes(stamps.created),
        "LastModifiedDate": text.datetimes(stamps.modified),
        "SystemModstamp": text.datetimes(stamps.system),
        "AccountId": book.ids.take(pa.array(acct)),
        "ContactId": contacts.ids.take(pa.array(contact, mask=contact < 0)),
        "Product2Id": product_ids(pod).take(pa.array(product)),
        "Name": text.concat(text.vocab([p.name for p in cat.PRODUCTS]).take(pa.array(product)), " - ",
                            text.vocab(cat.CITY_NAMES).take(pa.array(book.city[acct]))),
        "SerialNumber": text.concat(codes, "-", text.numbers(rng.permutation(n) + int(rng.integers(10**6, 10**7)), 9)),
        "Status": text.pick(text.vocab(STATUSES), status),
        "Quantity": pa.array(deals.line_qty[latest]),
        "Price": pa.array(deals.line_unit_price[latest]),
        "CurrencyIsoCode": text.vocab(cat.CURRENCIES).take(pa.array(book.currency[acct])),
        "PurchaseDate": text.dates(purchase),
        "InstallDate": text.dates(install),
        "UsageEndDate": text.dates(end - 1, valid=status == OBSOLETE),
    })
    return table, stamps
