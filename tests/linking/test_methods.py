"""The five methods on hand-made pairs: confidence and evidence, and the hard negatives."""

from __future__ import annotations

from tests.linking.helpers import groups, link_row, pair, run

from etl.linking.config import ManualLinkages


def test_exact_identical_normalised_names(config):
    r = run(config, [("A1", "Siemens AG"), ("A2", "Siemens plc"), ("A3", "Siemens (Schweiz) AG")])
    row = link_row(r, "A1", "A2")
    assert (row["method"], row["confidence"], row["methods"]) == ("exact", 100.0, "exact")
    assert row["name_similarity"] == 100.0 and row["name_scorer"] == "exact"
    assert row["evidence"] == "identical normalised name 'siemens'"
    assert groups(r) == {frozenset({"A1", "A2", "A3"})}
    assert set(r.master_accounts["method"]) == {"exact"}


def test_exact_ignores_spaces(config):
    r = run(config, [("B1", "Deutsche Bank AG"), ("B2", "DeutscheBank")])
    assert link_row(r, "B1", "B2")["evidence"] == "identical normalised name 'deutsche bank'"


def test_fuzzy_capped_at_95_without_other_evidence(config):
    r = run(config, [("A1", "Accenture Consulting GmbH"), ("A2", "Acenture Consulting Ltd")])
    row = link_row(r, "A1", "A2")
    assert (row["method"], row["confidence"], row["name_similarity"]) == ("fuzzy", 95.0, 97.4)
    assert row["evidence"] == "name similarity 97.4 (token-sort), weakest word match 94.1"


def test_fuzzy_confidence_is_the_similarity_below_the_cap(config):
    r = run(config, [("S1", "Schneider Electric SE"), ("S2", "Schnieder Electric Inc.")])
    row = link_row(r, "S1", "S2")
    assert (row["method"], row["confidence"]) == ("fuzzy", 94.4)
    assert row["evidence"] == "name similarity 94.4 (token-sort), weakest word match 88.9"


def test_fuzzy_same_parent_bonus_capped_at_100(config):
    r = run(config, [("S1", "Schneider Electric SE"), ("S2", "Schnieder Electric Inc.", "S1")])
    row = link_row(r, "S1", "S2")
    assert (row["method"], row["confidence"], row["methods"]) == ("fuzzy", 100.0, "fuzzy,parent")
    assert row["same_parent"] == "S1"
    assert row["evidence"] == "name similarity 94.4 (token-sort), weakest word match 88.9, same parent S1"


def test_fuzzy_shared_contact_bonus(config):
    r = run(
        config,
        [("S1", "Schneider Electric SE"), ("S2", "Schnieder Electric Inc.")],
        [("S1", "anna.berg@se.com"), ("S2", "Anna.Berg@SE.com ")],
    )
    row = link_row(r, "S1", "S2")
    assert (row["method"], row["confidence"], row["methods"]) == ("fuzzy", 100.0, "fuzzy,contact")
    assert (row["shared_contact"], row["shared_contact_count"]) == ("anna.berg@se.com", 1)
    assert row["evidence"] == (
        "name similarity 94.4 (token-sort), weakest word match 88.9, shared contact anna.berg@se.com"
    )


def test_parent_links_a_subsidiary_named_after_its_parent(config):
    r = run(
        config,
        [
            ("P1", "Rorania Steel International Ltd"),
            ("P2", "Rorania Steel Operations plc", "P1"),
            ("P3", "Rorania Steel Leasing plc", "P1"),
        ],
    )
    row = link_row(r, "P1", "P2")
    assert (row["method"], row["confidence"], row["methods"]) == ("parent", 90.0, "parent")
    assert (row["name_similarity"], row["name_scorer"]) == (100.0, "token-set")
    assert row["evidence"] == (
        "name similarity 70.6 (compact), weakest word match 47.1, word-set similarity 100, same parent P1"
    )
    siblings = link_row(r, "P2", "P3")
    assert (siblings["method"], siblings["confidence"], siblings["name_similarity"]) == ("parent", 90.0, 80.0)
    assert groups(r) == {frozenset({"P1", "P2", "P3"})}


def test_parent_needs_similar_names(config):
    # Same parent, unrelated business names: similarity far below 70, no link.
    r = run(config, [("H1", "Zenith Holdings plc"), ("H2", "Bluegate Catering Ltd", "H1")])
    assert r.links.empty
    assert groups(r) == {frozenset({"H1"}), frozenset({"H2"})}


def test_contact_shared_email(config):
    r = run(
        config,
        [("V1", "Vodafone GmbH"), ("V2", "Vodaphone Ltd")],
        [("V1", "j.doe@vodafone.com"), ("V2", "j.doe@vodafone.com")],
    )
    row = link_row(r, "V1", "V2")
    assert (row["method"], row["confidence"], row["name_similarity"]) == ("contact", 85.0, 82.4)
    assert row["evidence"] == (
        "name similarity 82.4 (token-sort), weakest word match 82.4, shared contact j.doe@vodafone.com"
    )


def test_contact_shared_phone_in_any_format(config):
    r = run(
        config,
        [("V1", "Vodafone GmbH"), ("V2", "Vodaphone Ltd")],
        [("V1", None, "+44 1632 960001"), ("V2", None, "+441632960001")],
    )
    row = link_row(r, "V1", "V2")
    assert (row["method"], row["confidence"], row["shared_contact"]) == ("contact", 85.0, "441632960001")


def test_generic_mailboxes_and_freemail_are_not_evidence(config):
    r = run(
        config,
        [("V1", "Vodafone GmbH"), ("V2", "Vodaphone Ltd")],
        [
            ("V1", "info@vodafone.com"),
            ("V2", "info@vodafone.com"),
            ("V1", "billing-emea@vodafone.com"),
            ("V2", "billing-emea@vodafone.com"),
            ("V1", "jane.doe@gmail.com"),
            ("V2", "jane.doe@gmail.com"),
            ("V1", "j.smith@yahoo.co.uk"),
            ("V2", "j.smith@yahoo.co.uk"),
        ],
    )
    assert r.links.empty
    # Not linked, but close enough to be worth a look.
    (review,) = r.review_queue.to_dict("records")
    assert (review["review_type"], review["confidence"]) == ("grey_band_pair", 82.4)
    assert review["reason"] == "name similarity 82.4 is below the fuzzy threshold 85"


def test_a_contact_on_too_many_accounts_is_not_evidence(config):
    cities = ["Berlin", "Paris", "Madrid", "Vienna", "Prague", "Warsaw", "Lisbon", "Dublin", "Oslo", "Zagreb"]
    limit = config.methods.contact.max_accounts_per_contact
    rows = [(f"R{i:02d}", f"Meridian Freight {city}") for i, city in enumerate(cities[: limit + 1])]
    # Two accounts sharing the mailbox: it is evidence, and they link.
    few = run(config, rows, [("R00", "m.keller@outsourcer.example"), ("R01", "m.keller@outsourcer.example")])
    assert link_row(few, "R00", "R01")["method"] == "contact"
    # The same mailbox on more than max_accounts_per_contact accounts is a shared service.
    many = run(config, rows, [(r[0], "m.keller@outsourcer.example") for r in rows])
    assert many.links.empty
    assert many.stats.discarded_blocks == 1


def test_manual_must_link_wins_over_dissimilar_names(config):
    manual = ManualLinkages(must_link=[pair("M1", "M2", "same legal entity after rebrand")], must_not_link=[])
    r = run(config, [("M1", "Hoechst AG"), ("M2", "Sanofi Aventis Deutschland GmbH")], manual=manual)
    row = link_row(r, "M1", "M2")
    assert (row["method"], row["confidence"], row["methods"]) == ("manual", 100.0, "manual")
    assert row["evidence"].endswith("manual must-link by alice on 2024-05-01: same legal entity after rebrand")


def test_several_methods_keep_the_highest_confidence_and_all_evidence(config):
    r = run(
        config,
        [("A1", "Siemens AG"), ("A2", "Siemens plc", "A1")],
        [("A1", "k.meier@siemens.com"), ("A2", "k.meier@siemens.com")],
    )
    row = link_row(r, "A1", "A2")
    assert (row["method"], row["confidence"], row["methods"]) == ("exact", 100.0, "exact,parent,contact")
    assert row["evidence"] == "identical normalised name 'siemens', same parent A1, shared contact k.meier@siemens.com"


def test_hard_negatives_do_not_link(config):
    r = run(
        config,
        [
            ("G1", "General Electric Company"),
            ("G2", "General Motors Company"),
            ("G3", "General Mills, Inc."),
            ("D1", "Delta Air Lines, Inc."),
            ("D2", "Delta Electronics, Inc."),
            ("B1", "Bank of America Corporation"),
            ("B2", "Bank of China Limited"),
            ("T1", "Telekom Austria AG"),
            ("T2", "Telekom Deutschland GmbH"),
        ],
        # Shared generic mailboxes must not tie them together either.
        [("G1", "info@general.example"), ("G2", "info@general.example"), ("G3", "billing@general.example"),
         ("G2", "billing@general.example"), ("D1", "sales@delta.example"), ("D2", "sales@delta.example")],
    )
    assert r.links.empty
    assert len(groups(r)) == 9
    assert r.review_queue.empty  # not even similar enough to review


def test_one_letter_in_a_short_word_goes_to_review_not_to_a_link(config):
    r = run(config, [("B1", "Deutsche Bank AG"), ("B2", "Deutsche Bahn AG")])
    assert r.links.empty
    (review,) = r.review_queue.to_dict("records")
    assert review["review_type"] == "grey_band_pair"
    assert review["confidence"] == 92.3
    assert review["member_account_ids"] == ["B1", "B2"]
    assert review["evidence"] == "name similarity 92.3 (token-sort), weakest word match 75"
    assert review["reason"] == "name similarity 92.3 but a word differs (weakest word match 75 < 88)"


def test_generic_names_identify_nobody(config):
    r = run(config, [("T1", "Telecom Ltd"), ("T2", "Telecom GmbH"), ("T3", "Services Inc")])
    assert r.links.empty and r.review_queue.empty
    # ... but a shared parent still links them.
    r = run(config, [("T1", "Telecom Ltd"), ("T2", "Telecom GmbH", "T1")])
    row = link_row(r, "T1", "T2")
    assert (row["method"], row["confidence"]) == ("parent", 90.0)


def test_master_rows_carry_the_strongest_link(config):
    r = run(
        config,
        [("S1", "Schneider Electric SE"), ("S2", "Schnieder Electric Inc."), ("S3", "Schneider Electric Ltd"),
         ("X1", "Lonely Corp")],
    )
    m = r.master_accounts.set_index("account_id")
    assert m.loc["S2", "method"] == "fuzzy" and m.loc["S2", "confidence"] == 94.4
    assert m.loc["S1", "method"] == "exact" and m.loc["S1", "confidence"] == 100.0
    assert m.loc["X1", "method"] == "singleton" and m["confidence"].isna()["X1"]
    assert list(m["cluster_size"]) == [3, 3, 3, 1]
    assert m.loc["X1", "master_id"] == "M1-X1" and m.loc["S2", "master_id"] == "M1-S1"
