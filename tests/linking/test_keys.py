"""Which contact values count as evidence, domain labels, and parent hierarchies."""

from __future__ import annotations

import numpy as np
import pandas as pd

from etl.linking.keys import domain_labels, email_keys, phone_keys, ultimate_parent_keys


def test_email_evidence_excludes_shared_mailboxes_and_freemail(config):
    emails = pd.Series(
        [" J.Doe@Acme.com", "info@acme.com", "sales-emea@acme.com", "info.de@acme.com", "jane@gmail.com",
         "bob@yahoo.co.uk", "not-an-email", None, "a@b@c.com", "ap@acme.com", "ap.smith@acme.com"]
    )
    evidence, domain = email_keys(emails, config.methods.contact)
    assert list(evidence) == [
        "j.doe@acme.com", None, None, None, None, None, None, None, None, None, "ap.smith@acme.com"
    ]
    assert list(domain) == ["acme.com"] * 4 + [None] * 5 + ["acme.com"] * 2


def test_phones_compare_as_digits(config):
    out = phone_keys(pd.Series(["+41 44 123 45 67", "(212) 555-0100", "12345", None]), config.methods.contact)
    assert list(out) == ["41441234567", "2125550100", None, None]


def test_domain_labels():
    urls = pd.Series(["https://www.siemens.co.uk/de", "siemens.com", "mail.siemens.com.br", "SIEMENS.DE.", "localhost", None])
    assert list(domain_labels(urls)) == ["siemens", "siemens", "siemens", "siemens", None, None]


def test_parent_keys_follow_the_hierarchy_to_its_top():
    ids = np.array(["A", "B", "C", "D", "E", "F", "G"], dtype=object)
    parents = np.array([None, "A", "B", None, "X", "E", ""], dtype=object)
    # C -> B -> A; E's parent X is not in the book, so X is the top of E and F; D and G stand alone.
    assert list(ultimate_parent_keys(ids, parents)) == ["A", "A", "A", None, "X", "X", None]
