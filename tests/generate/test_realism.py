"""The book looks like a real B2B telco book: linked regional accounts and decoys,
renewals with every outcome, contracts coming up for renewal, overdue cases, and
customer archetypes that drive payments, support, engagement and usage coherently."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from etl.contracts import BRONZE_TABLES
from etl.generate import GenerationReport, billing, companies, people, sales, service
from etl.generate.common import AT_RISK, CHURNING, GROWING, STABLE, Clock, rng_for
from etl.storage import read_bronze

from .conftest import AS_OF


@pytest.fixture(scope="module")
def book(clean_book: tuple[Path, GenerationReport]) -> dict[str, pd.DataFrame]:
    data_dir, report = clean_book
    frames = {t: read_bronze(data_dir, t) for t in BRONZE_TABLES}
    frames["links"] = pd.read_csv(report.ground_truth_path / "account_links.csv", dtype=str)
    return frames


def test_global_companies_span_countries_with_varied_names(book: dict[str, pd.DataFrame]) -> None:
    acc = book["Account"].merge(book["links"], left_on="Id", right_on="account_id")
    sizes = acc.groupby("global_company_id").size()
    assert sizes.max() <= 5 and 0.10 <= (acc["global_company_id"].map(sizes) > 1).mean() <= 0.25
    multi = acc[acc["global_company_id"].map(sizes) > 1].groupby("global_company_id")
    spread = multi["BillingCountry"].agg(lambda s: s.str.upper().nunique()) == multi.size()
    assert spread.sum() >= 5
    # Regional legal names share the brand word but are not all written the same way.
    brands = multi["Name"].agg(lambda s: s.str.split().str[0].str.lower().nunique())
    assert (brands == 1).mean() > 0.9
    assert multi["Name"].nunique().gt(1).mean() > 0.7
    parents = acc[acc["ParentId"].notna()]
    assert (parents["global_company_id"].to_numpy() == parents["ParentId"].map(acc.set_index("Id")["global_company_id"]).to_numpy()).all()


def test_contacts_are_shared_within_a_company_and_decoys_exist(book: dict[str, pd.DataFrame]) -> None:
    company = book["links"].set_index("account_id")["global_company_id"]
    contacts = book["Contact"].assign(company=lambda f: f["AccountId"].map(company))
    shared = contacts.dropna(subset=["Email"]).groupby("Email").agg(accounts=("AccountId", "nunique"),
                                                                     companies=("company", "nunique"))
    assert (shared["accounts"] > 1).sum() >= 3
    assert (shared.loc[shared["accounts"] > 1, "companies"] == 1).all()
    names = book["links"].drop_duplicates("global_company_id")
    first_word = names["company_name"].str.split().str[0]
    assert first_word.duplicated(keep=False).sum() >= 2  # different companies, similar names


def test_names_are_mostly_distinct_at_scale() -> None:
    clock = Clock(AS_OF)
    users = people.plan_users(60_000, rng_for(3, "users"), clock, "aa")
    plan = companies.plan_accounts(60_000, rng_for(3, "accounts"), clock, users.region_start, users.region_count, "aa")
    canonical = pd.Series(plan.company_name.to_pylist())
    assert canonical.nunique() / len(canonical) > 0.97


def test_renewals_have_every_outcome_and_contracts_come_up_for_renewal(book: dict[str, pd.DataFrame]) -> None:
    o = book["Opportunity"]
    renewals = o[o["Type"] == "Renewal"]
    assert {"Closed Won", "Closed Lost"} <= set(renewals["StageName"]) and (~renewals["IsClosed"]).any()
    assert (o["Type"] == "Upsell").any() and (o["Type"] == "New Business").any()
    c = book["Contract"]
    ending = c[(c["Status"] == "Activated") & (pd.to_datetime(c["EndDate"]) <= pd.Timestamp(AS_OF) + pd.Timedelta(days=90))]
    open_renewal = set(renewals.loc[~renewals["IsClosed"], "AccountId"])
    assert ending["AccountId"].isin(open_renewal).any() and (~ending["AccountId"].isin(open_renewal)).any()


def test_overdue_cases_qbrs_and_missing_components(book: dict[str, pd.DataFrame]) -> None:
    cs = book["Case"]
    open_ = cs[~cs["IsClosed"]]
    age_hours = (pd.Timestamp(AS_OF, tz="UTC")
                 - pd.to_datetime(open_["CreatedDate"], format="%Y-%m-%dT%H:%M:%S.%f%z")).dt.total_seconds() / 3600
    sla = open_["Priority"].map({"Critical": 4, "High": 24, "Medium": 72, "Low": 120})
    assert (age_hours > sla).any() and (age_hours <= sla).any()
    ev = book["Event"]
    qbr_subject = ev["Subject"].str.contains("QBR|Quarterly Business Review")
    assert (qbr_subject & (ev["Type"] == "Meeting")).any() and (qbr_subject & (ev["Type"] == "QBR")).any()
    accounts = set(book["Account"]["Id"])
    for table, column in (("billing_invoices", "account_id"), ("monthly_usage", "account_id"), ("Case", "AccountId"),
                          ("Task", "AccountId")):
        assert accounts - set(book[table][column]), f"every account has {table}"


def _plan(n: int) -> tuple[companies.Book, sales.Deals, service.Service, Clock]:
    clock = Clock(date(2024, 3, 15))
    users = people.plan_users(n, rng_for(9, "users"), clock, "aa")
    plan = companies.plan_accounts(n, rng_for(9, "accounts"), clock, users.region_start, users.region_count, "aa")
    deals = sales.plan_deals(plan, clock, rng_for(9, "deals"))
    contacts = people.plan_contacts(plan, rng_for(9, "contacts"), clock, "aa")
    return plan, deals, service.plan_service(plan, contacts, clock, rng_for(9, "service")), clock


def test_archetypes_drive_payments_support_engagement_and_usage() -> None:
    plan, deals, svc, clock = _plan(3000)
    arch = plan.archetype
    active = billing.active_services(deals, clock)
    invoices = pd.concat([t.to_pandas() for _, t in billing.invoice_months(plan, active, clock, rng_for(9, "inv"))])
    ids = pd.Series(np.arange(plan.n), index=plan.ids.to_pylist())
    invoices["arch"] = arch[ids[invoices["account_id"]].to_numpy()]
    late = (invoices["paid_date"].fillna("9999") > invoices["due_date"]) & (invoices["due_date"] < str(clock.as_of))
    late_share = late.groupby(invoices["arch"]).mean()
    assert late_share[GROWING] < late_share[STABLE] < late_share[AT_RISK] < late_share[CHURNING]

    recent = svc.case_created > clock.now - 90 * 86_400
    per_account = np.bincount(svc.case_account[recent], minlength=plan.n)
    cases = pd.Series(per_account).groupby(arch).mean()
    assert cases[GROWING] < cases[AT_RISK] < cases[CHURNING]
    qbrs = np.bincount(svc.event_account[svc.event_qbr & (svc.event_day <= clock.today)
                                         & (svc.event_day > clock.today - 365)], minlength=plan.n)
    qbr = pd.Series(qbrs).groupby(arch).mean()
    assert qbr[GROWING] > 3 and qbr[CHURNING] < 1

    usage = pd.concat([t.to_pandas() for _, t in billing.usage_months(plan, active, clock, rng_for(9, "use"))])
    month = pd.PeriodIndex(usage["usage_month"], freq="M")
    last = pd.Period(clock.as_of, "M")
    usage["block"] = np.select([month > last - 3, month > last - 6], ["last", "previous"], "older")
    totals = usage.pivot_table(index=["account_id", "service_code"], columns="block", values="quantity", aggfunc="sum")
    growth = (totals["last"] / totals["previous"] - 1).groupby(level=0).mean()
    by_arch = growth.groupby(arch[ids[growth.index].to_numpy()]).median()
    assert by_arch[GROWING] > 0.05 and abs(by_arch[STABLE]) < 0.03 and by_arch[CHURNING] < -0.15
