"""Support cases and account-team activities (Events and Tasks).

Both follow the customer's archetype: declining customers raise more and
worse cases, which take longer to close and escalate more often, while
their account team meets them less (fewer QBRs, a longer silence since the
last call).  Contacts' LastActivityDate is derived from the activities, as
Salesforce does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from etl.generate import catalogue as cat
from etl.generate import text
from etl.generate.common import (
    AT_RISK,
    CHURNING,
    DAY,
    Clock,
    Stamps,
    business_seconds,
    choice,
    choice_rows,
    month_index,
    record_stamps,
)
from etl.generate.companies import Book
from etl.generate.people import Contacts

PRIORITIES = ("Critical", "High", "Medium", "Low")
SLA_HOURS = np.array([4, 24, 72, 120])
# Per archetype (growing, stable, at-risk, churning).
CASES_PER_MONTH = np.array([0.12, 0.18, 0.28, 0.38])  # over the last 24 months
RECENT_CASES = np.array([0.3, 0.5, 1.6, 3.5])  # extra cases in the last 90 days
PRIORITY_MIX = np.array([[3, 12, 45, 40], [5, 15, 45, 35], [8, 25, 42, 25], [12, 33, 35, 20]], dtype=float)
ESCALATION = np.array([0.02, 0.04, 0.12, 0.35])
ESCALATION_BY_PRIORITY = np.array([2.0, 1.5, 1.0, 0.5])
RESOLUTION_HOURS = np.array([6.0, 30.0, 80.0, 150.0])  # median by priority
SLOWNESS = np.array([1.0, 1.2, 1.6, 2.2])
QBR_PER_YEAR = np.array([4.0, 4.0, 1.5, 0.6])
MEETINGS_PER_MONTH = np.array([0.30, 0.22, 0.12, 0.06])
TASKS_PER_MONTH = np.array([0.9, 0.6, 0.35, 0.15])
SILENCE_DAYS = np.array([[0, 14], [0, 30], [20, 90], [60, 240]])  # days since the last contact activity
HISTORY_DAYS = 730
QBR_SLOTS = 9  # one per quarter, the first possibly still ahead

# Short product names as they appear in case subjects.
_CASE_PRODUCTS = text.vocab(("Mobile", "SD-WAN", "MPLS", "Internet", "SIP trunk", "IoT", "Firewall", "Contact centre"))


def _split_subjects() -> tuple[pa.Array, pa.Array, np.ndarray, np.ndarray]:
    """Case subject templates split around "{p}" so a product name can be spliced in by column."""
    before, after, count = [], [], []
    for templates in cat.CASE_SUBJECTS:
        count.append(len(templates))
        for t in templates:
            head, _, tail = t.partition("{p}")
            before.append(head)
            after.append(tail if "{p}" in t else None)
    count_arr = np.array(count)
    return text.vocab(before), text.vocab(after), np.cumsum(count_arr) - count_arr, count_arr


_SUBJ_BEFORE, _SUBJ_AFTER, _SUBJ_START, _SUBJ_COUNT = _split_subjects()


@dataclass
class Service:
    case_account: np.ndarray
    case_contact: np.ndarray  # -1 when none
    case_created: np.ndarray  # seconds
    case_closed: np.ndarray  # seconds, -1 while open
    case_priority: np.ndarray
    case_escalated: np.ndarray
    event_account: np.ndarray
    event_contact: np.ndarray
    event_day: np.ndarray
    event_qbr: np.ndarray
    task_account: np.ndarray
    task_contact: np.ndarray  # -1 when none
    task_day: np.ndarray
    last_activity: np.ndarray  # per contact: latest activity day up to today, -1 if none
    first_touch: np.ndarray  # per contact: earliest case or activity (seconds); int64 max if none
    referenced: np.ndarray  # per contact: named by a case or activity (must not be deleted)


def plan_service(book: Book, contacts: Contacts, clock: Clock, rng: np.random.Generator) -> Service:
    today = clock.today
    now = clock.now
    n = book.n
    arch = book.archetype
    scale = book.size ** 0.25
    # History starts two years back, or a week after the account was created if that is later.
    begin = np.maximum(today - HISTORY_DAYS, book.created // DAY + 7)
    history = today - begin
    share = history / HISTORY_DAYS

    # --- cases: a background rate over the history plus a recent burst for declining customers
    quiet = book.no_cases | book.no_activities
    background = np.where(quiet, 0, rng.poisson(CASES_PER_MONTH[arch] * 24 * scale * share))
    recent = np.where(quiet, 0, rng.poisson(RECENT_CASES[arch] * scale * np.minimum(history / 90, 1)))
    case_account = np.concatenate([np.repeat(np.arange(n), background), np.repeat(np.arange(n), recent)])
    is_recent = np.concatenate([np.zeros(background.sum(), bool), np.ones(recent.sum(), bool)])
    m = len(case_account)
    window = np.where(is_recent, np.minimum(history[case_account], 90), history[case_account]) * DAY
    created = now - 3600 - (rng.random(m) * (window - 3600)).astype(np.int64)
    ca = arch[case_account]
    priority = choice_rows(rng, PRIORITY_MIX[ca])
    escalated = rng.random(m) < ESCALATION[ca] * ESCALATION_BY_PRIORITY[priority]
    hours = rng.lognormal(np.log(RESOLUTION_HOURS[priority] * SLOWNESS[ca] * np.where(escalated, 2.0, 1.0)), 0.8)
    closed = created + (hours * 3600).astype(np.int64)
    closed = np.where(closed < now - 60, closed, -1)
    case_contact = np.where(rng.random(m) < 0.05, -1, contacts.pick(case_account, rng))

    # --- activities stop at each account's last touch, further back for disengaged customers
    lo, hi = SILENCE_DAYS[arch].T
    silence = np.minimum(rng.integers(lo, hi + 1), history)
    last_touch = today - silence
    engaged = ~book.no_activities

    # QBRs: one slot per quarter, kept with a probability that fades for at-risk and churning customers.
    slot = np.arange(QBR_SLOTS)[None, :]
    slot_day = today + 30 - 91 * slot + rng.integers(-20, 21, size=(n, QBR_SLOTS))
    keep = rng.random((n, QBR_SLOTS)) < (QBR_PER_YEAR[arch] / 4)[:, None]
    keep &= ~((slot <= 2) & (arch == AT_RISK)[:, None] & (rng.random((n, QBR_SLOTS)) < 0.5))
    keep &= ~((slot <= 3) & (arch == CHURNING)[:, None])
    keep &= ((slot_day <= last_touch[:, None]) | ((slot_day > today) & (arch < AT_RISK)[:, None]))
    keep &= (slot_day >= begin[:, None]) & engaged[:, None]
    qbr_acct, qbr_slot = np.nonzero(keep)
    qbr_day = slot_day[qbr_acct, qbr_slot]

    def spread(acct: np.ndarray, upcoming_share: float, ahead: int) -> np.ndarray:
        """Days between the history start and the last touch; a few scheduled ahead of today."""
        k = len(acct)
        past = begin[acct] + (rng.random(k) * (last_touch[acct] - begin[acct])).astype(np.int64)
        return np.where(rng.random(k) < upcoming_share, today + rng.integers(1, ahead, size=k), past)

    meet_acct = np.repeat(np.arange(n), rng.poisson(MEETINGS_PER_MONTH[arch] * 24 * scale * share) * engaged)
    event_account = np.concatenate([qbr_acct, meet_acct])
    event_day = np.concatenate([qbr_day, spread(meet_acct, 0.05, 22)])
    event_qbr = np.concatenate([np.ones(len(qbr_acct), bool), np.zeros(len(meet_acct), bool)])
    event_contact = contacts.pick(event_account, rng)

    # Tasks: calls and emails, plus the last touch itself.
    task_acct = np.repeat(np.arange(n), rng.poisson(TASKS_PER_MONTH[arch] * 24 * scale * share) * engaged)
    touch = np.flatnonzero(engaged)
    task_account = np.concatenate([task_acct, touch])
    task_day = np.concatenate([spread(task_acct, 0.04, 15), last_touch[touch]])
    task_contact = contacts.pick(task_account, rng)
    task_contact[: len(task_acct)][rng.random(len(task_acct)) < 0.05] = -1

    last = np.full(contacts.n, -1, dtype=np.int64)
    first = np.full(contacts.n, np.iinfo(np.int64).max)
    for who, when in ((case_contact, created), (event_contact, event_day * DAY), (task_contact, task_day * DAY)):
        named = who >= 0
        np.minimum.at(first, who[named], when[named])
    for who, day in ((event_contact, event_day), (task_contact, task_day)):
        past = (who >= 0) & (day <= today)
        np.maximum.at(last, who[past], day[past])
    return Service(case_account, case_contact, created, closed, priority, escalated, event_account, event_contact,
                   event_day, event_qbr, task_account, task_contact, task_day, last, first,
                   first < np.iinfo(np.int64).max)


# --------------------------------------------------------------------------- rendering


def case_table(book: Book, contacts: Contacts, svc: Service, preference: np.ndarray, clock: Clock,
               rng: np.random.Generator, pod: str) -> tuple[pa.Table, Stamps]:
    n = len(svc.case_account)
    acct = svc.case_account
    now = clock.now
    is_closed = svc.case_closed >= 0
    age_hours = (now - svc.case_created) / 3600
    status = np.where(is_closed, 3, np.where(svc.case_escalated, 2, np.where(
        (age_hours < 24) | (rng.random(n) < 0.3), 0, 1)))
    ctype = choice(rng, cat.CASE_TYPE_WEIGHTS, n)
    template = _SUBJ_START[ctype] + (rng.random(n) * _SUBJ_COUNT[ctype]).astype(np.int64)
    product = preference[acct, rng.integers(0, 2, size=n)]
    after = _SUBJ_AFTER.take(pa.array(template))
    about_product = ~after.is_null().to_numpy(zero_copy_only=False)
    product_name = text.where(~about_product, "", text.pick(_CASE_PRODUCTS, product))
    subject = text.concat(_SUBJ_BEFORE.take(pa.array(template)), product_name, after.fill_null(""))
    rank = text.creation_rank(svc.case_created)
    stamps = record_stamps(rng, svc.case_created, now, np.where(is_closed, svc.case_closed, 0))
    table = pa.table({
        "Id": text.salesforce_ids("500", rank + int(rng.integers(10**6, 10**7)), pod),
        "IsDeleted": pa.repeat(False, n).cast(pa.bool_()),
        "CreatedDate": text.datetimes(stamps.created),
        "LastModifiedDate": text.datetimes(stamps.modified),
        "SystemModstamp": text.datetimes(stamps.system),
        "AccountId": book.ids.take(pa.array(acct)),
        "ContactId": contacts.ids.take(pa.array(svc.case_contact, mask=svc.case_contact < 0)),
        "CaseNumber": text.numbers(rank + 1001, 8),
        "Subject": subject,
        "Status": text.pick(text.vocab(("New", "Working", "Escalated", "Closed")), status),
        "Priority": text.pick(text.vocab(PRIORITIES), svc.case_priority),
        "Origin": text.pick(text.vocab(cat.CASE_ORIGINS), choice(rng, cat.CASE_ORIGIN_WEIGHTS, n)),
        "Type": text.pick(text.vocab(cat.CASE_TYPES), ctype),
        "IsEscalated": pa.array(svc.case_escalated),
        "IsClosed": pa.array(is_closed),
        "ClosedDate": text.datetimes(svc.case_closed, valid=is_closed),
    })
    return table, stamps


def _activity_stamps(rng: np.random.Generator, day: np.ndarray, clock: Clock) -> Stamps:
    """Activities are scheduled days or weeks ahead and updated when they happen."""
    n = len(day)
    created = (day - rng.integers(1, 31, size=n)) * DAY + business_seconds(rng, n)
    touched = np.where(day <= clock.today, day * DAY + business_seconds(rng, n), 0)
    return record_stamps(rng, created, clock.now, touched)


def event_table(book: Book, contacts: Contacts, svc: Service, clock: Clock, rng: np.random.Generator,
                pod: str) -> tuple[pa.Table, Stamps]:
    n = len(svc.event_account)
    day = svc.event_day
    qbr = svc.event_qbr
    month = month_index(day)
    quarter = pa.array((month % 12 // 3 + 1).astype(str))
    year = pa.array((month // 12 + 1970).astype(str))
    # QBR subjects vary; a QBR is sometimes logged as a plain Meeting and only its subject says so.
    form = choice(rng, np.array([40, 25, 20, 15]), n)
    qbr_subject = text.where(form == 0, text.concat("Q", quarter, " Quarterly Business Review"),
                             text.where(form == 1, text.concat("QBR Q", quarter, " ", year),
                                        text.where(form == 2, text.concat("Q", quarter, " ", year, " QBR"),
                                                   pa.repeat("Quarterly Business Review", n).cast(pa.string()))))
    meeting_subject = text.pick(text.vocab(cat.MEETING_SUBJECTS), (rng.random(n) * len(cat.MEETING_SUBJECTS)).astype(np.int64))
    kind = np.where(qbr & (rng.random(n) < 0.7), 1, 0)
    duration = np.where(qbr, rng.choice([60.0, 90.0, 120.0], size=n), rng.choice([30.0, 45.0, 60.0], size=n))
    stamps = _activity_stamps(rng, day, clock)
    table = pa.table({
        "Id": text.salesforce_ids("00U", text.creation_rank(stamps.created) + int(rng.integers(10**6, 10**7)), pod),
        "IsDeleted": pa.repeat(False, n).cast(pa.bool_()),
        "CreatedDate": text.datetimes(stamps.created),
        "LastModifiedDate": text.datetimes(stamps.modified),
        "SystemModstamp": text.datetimes(stamps.system),
        "AccountId": book.ids.take(pa.array(svc.event_account)),
        "WhoId": contacts.ids.take(pa.array(svc.event_contact)),
        "Subject": text.where(qbr, qbr_subject, meeting_subject),
        "Type": text.pick(text.vocab(("Meeting", "QBR")), kind),
        "ActivityDate": text.dates(day),
        "DurationInMinutes": pa.array(duration),
    })
    return table, stamps


def task_table(book: Book, contacts: Contacts, svc: Service, clock: Clock, rng: np.random.Generator,
               pod: str) -> tuple[pa.Table, Stamps]:
    n = len(svc.task_account)
    day = svc.task_day
    is_email = rng.random(n) < 0.45
    calls, emails = cat.TASK_SUBJECTS["Call"], cat.TASK_SUBJECTS["Email"]
    subject = text.where(is_email, text.pick(text.vocab(emails), (rng.random(n) * len(emails)).astype(np.int64)),
                         text.pick(text.vocab(calls), (rng.random(n) * len(calls)).astype(np.int64)))
    done = (day <= clock.today) & (rng.random(n) > 0.05)
    stamps = _activity_stamps(rng, day, clock)
    table = pa.table({
        "Id": text.salesforce_ids("00T", text.creation_rank(stamps.created) + int(rng.integers(10**6, 10**7)), pod),
        "IsDeleted": pa.repeat(False, n).cast(pa.bool_()),
        "CreatedDate": text.datetimes(stamps.created),
        "LastModifiedDate": text.datetimes(stamps.modified),
        "SystemModstamp": text.datetimes(stamps.system),
        "AccountId": book.ids.take(pa.array(svc.task_account)),
        "WhoId": contacts.ids.take(pa.array(svc.task_contact, mask=svc.task_contact < 0)),
        "Subject": subject,
        "Type": text.where(is_email, "Email", pa.repeat("Call", n).cast(pa.string())),
        "Status": text.where(done, "Completed", pa.repeat("Not Started", n).cast(pa.string())),
        "ActivityDate": text.dates(day),
    })
    return table, stamps
