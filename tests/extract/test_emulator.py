"""The emulator speaks Salesforce's wire format (raw HTTP, no extractor involved)."""

from __future__ import annotations

import csv
import io
import re

import pytest
import requests

from etl.extract.emulator import Emulator
from tests.extract.conftest import new_emulator
from tests.extract.sf_book import make_book

V = "/services/data/v62.0"


@pytest.fixture
def big(server) -> Emulator:
    return new_emulator(server, make_book(sizes={"Account": 4500}))


@pytest.fixture
def http(server, big: Emulator) -> requests.Session:
    s = server.session()
    s.headers["Authorization"] = f"Bearer {big.issue_token()}"
    return s


def _url(path: str) -> str:
    return f"https://acme.my.salesforce.com{V}{path}"


def test_query_pages_of_2000_with_next_records_url(http: requests.Session, big: Emulator):
    soql = "SELECT Id, Name, CreatedDate, IsDeleted, AnnualRevenue FROM Account WHERE SystemModstamp <= 2026-11-01T00:00:00Z"
    r = http.get(_url("/queryAll"), params={"q": soql})
    assert r.status_code == 200 and re.fullmatch(r"api-usage=\d+/\d+", r.headers["Sforce-Limit-Info"])
    assert r.headers["Date"].endswith("GMT")
    page = r.json()
    assert (page["totalSize"], page["done"], len(page["records"])) == (4500, False, 2000)
    assert re.fullmatch(rf"{V}/queryAll/01g\w+-2000", page["nextRecordsUrl"])
    rec = page["records"][0]
    assert list(rec) == ["attributes", "Id", "Name", "CreatedDate", "IsDeleted", "AnnualRevenue"]
    assert rec["attributes"] == {"type": "Account", "url": f"{V}/sobjects/Account/{rec['Id']}"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000", rec["CreatedDate"])
    seen = len(page["records"])
    while not page["done"]:
        page = http.get(f"https://acme.my.salesforce.com{page['nextRecordsUrl']}", headers={"Sforce-Query-Options": "batchSize=500"}).json()
        seen += len(page["records"])
        assert len(page["records"]) <= 500
    assert seen == 4500 and "nextRecordsUrl" not in page


def test_query_hides_deleted_rows_and_query_all_shows_them(http: requests.Session, big: Emulator):
    deleted = int(big.org.frame("Account")["IsDeleted"].sum())
    q = {"q": "SELECT Id FROM Account"}
    assert http.get(_url("/query"), params=q).json()["totalSize"] == 4500 - deleted
    assert http.get(_url("/queryAll"), params=q).json()["totalSize"] == 4500
    one = http.get(_url("/query"), params={"q": "SELECT Id FROM Account WHERE IsDeleted = true"}).json()
    assert one["totalSize"] == 0


@pytest.mark.parametrize(
    ("soql", "code"),
    [
        ("SELECT Id FROM Account WHERE Name = 'a' OR Name = 'b'", "MALFORMED_QUERY"),
        ("SELECT COUNT() FROM Account", "MALFORMED_QUERY"),
        ("SELEC Id FROM Account", "MALFORMED_QUERY"),
        ("SELECT Nope__c FROM Account", "INVALID_FIELD"),
        ("SELECT Id FROM Lead", "INVALID_TYPE"),
    ],
)
def test_queries_it_cannot_serve_get_salesforce_errors(http: requests.Session, soql: str, code: str):
    r = http.get(_url("/query"), params={"q": soql})
    assert r.status_code == 400
    body = r.json()
    assert isinstance(body, list) and body[0]["errorCode"] == code and body[0]["message"]


def test_bulk_query_job_lifecycle(http: requests.Session, big: Emulator):
    job = http.post(_url("/jobs/query"), json={"operation": "queryAll", "query": "SELECT Id, IsDeleted, SystemModstamp, Name FROM Account"}).json()
    assert job["state"] == "UploadComplete" and job["id"].startswith("750") and job["object"] == "Account"
    early = http.get(_url(f"/jobs/query/{job['id']}/results"))
    assert early.status_code == 400
    states = [http.get(_url(f"/jobs/query/{job['id']}")).json()["state"] for _ in range(2)]
    assert states == ["InProgress", "JobComplete"]
    rows, locator, pages = [], None, 0
    while True:
        params = {"maxRecords": 2000} | ({"locator": locator} if locator else {})
        r = http.get(_url(f"/jobs/query/{job['id']}/results"), params=params)
        assert r.headers["Content-Type"].startswith("text/csv")
        page = list(csv.reader(io.StringIO(r.text)))
        assert page[0] == ["Id", "IsDeleted", "SystemModstamp", "Name"]
        assert int(r.headers["Sforce-NumberOfRecords"]) == len(page) - 1
        rows += page[1:]
        pages += 1
        locator = r.headers["Sforce-Locator"]
        if locator == "null":
            break
    assert pages == 3 and len(rows) == 4500
    assert {r[1] for r in rows} == {"true", "false"}
    assert all(r[2].endswith("Z") for r in rows)
    assert '"Id","IsDeleted"' in http.get(_url(f"/jobs/query/{job['id']}/results"), params={"maxRecords": 1}).text
    assert http.delete(_url(f"/jobs/query/{job['id']}")).status_code == 204


def test_bad_token_is_invalid_session_and_the_session_refuses_other_hosts(server, big: Emulator):
    s = server.session()
    r = s.get(_url("/limits"), headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and r.json()[0]["errorCode"] == "INVALID_SESSION_ID"
    with pytest.raises(requests.exceptions.InvalidURL, match="only routes"):
        s.get("https://example.com/")
    with pytest.raises(requests.exceptions.InvalidURL):
        s.get("http://login.salesforce.com/services/oauth2/token")
