"""Name normalisation: legal forms of many countries, qualifiers, accents, and the guards."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from etl.linking.normalise import NameRules, NameTable, clean_text, normalise_name, normalise_names


@pytest.fixture(scope="module")
def rules(config) -> NameRules:
    return NameRules.from_config(config.normalisation)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Siemens AG", "siemens"),  # Germany / Switzerland
        ("Siemens plc", "siemens"),  # UK
        ("Bosch GmbH", "bosch"),
        ("Bosch Ltd", "bosch"),
        ("Nestlé Suisse S.A.", "nestle"),  # accent, country qualifier, S.A.
        ("Telecom Italia S.p.A.", "telecom italia"),  # S.p.A.; "telecom" alone would be generic
        ("Philips Nederland B.V.", "philips"),  # B.V., Dutch qualifier
        ("Sony K.K.", "sony"),  # Japan
        ("Kabushiki Kaisha Toshiba", "toshiba"),  # Japanese legal form as a prefix
        ("BHP Billiton Pty Ltd", "bhp billiton"),  # Australia
        ("Siemens (Schweiz) AG", "siemens"),
        ("Siemens Schweiz AG", "siemens"),
        ("Vodafone Deutschland GmbH", "vodafone"),
        ("Siemens AG Österreich", "siemens"),  # qualifier after the legal form
        ("IBM United Kingdom Limited", "ibm"),
        ("IBM Japan, Ltd.", "ibm"),
        ("Telefónica España S.A.U.", "telefonica"),
        ("Crédit Agricole S.A.", "credit agricole"),
        ("ÅF Pöyry AB", "af poyry"),  # Swedish letters
        ("Straße Logistik GmbH & Co. KG", "strasse logistics"),  # ß, word form, compound legal form
        ("A.P. Møller - Mærsk A/S", "ap moller maersk"),  # ø, æ, Danish A/S
        ("Orange Polska S.A.", "orange"),
        ("Koravex Healthcare Sp. z o.o.", "koravex healthcare"),  # Poland
        ("Grupo Televisa S.A.B. de C.V.", "televisa"),  # Mexico, leading "Grupo"
        ("PT Telkom Indonesia Tbk", "telkom"),  # Indonesian prefix and suffix
        ("Merck & Co., Inc.", "merck"),
        ("Amazon.com, Inc.", "amazon"),
        ("The Coca-Cola Company", "coca cola"),
        ("Acme Telecommunications Intl Holdings Ltd", "acme telecom"),  # word forms, designators
        ("Acme Telecom UK Ltd", "acme telecom"),
    ],
)
def test_normalisation_strips_what_is_not_the_company(rules, raw, expected):
    assert normalise_name(raw, rules) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # A country after "of" is part of the name: Bank of America must not equal Bank of China.
        ("Bank of America Corp", "bank of america"),
        ("Bank of China Ltd", "bank of china"),
        # Stripping the country would leave one generic word: keep it.
        ("Telekom Austria AG", "telekom austria"),
        ("Telekom Deutschland GmbH", "telekom deutschland"),
        ("Air France", "air france"),
        # A legal-form word is never the whole name.
        ("AG", "ag"),
        # "AO Smith" and "SC Johnson" are names, not legal-form prefixes.
        ("A.O. Smith Corporation", "ao smith"),
        ("SC Johnson & Son, Inc.", "sc johnson son"),
    ],
)
def test_guards_keep_identifying_words(rules, raw, expected):
    assert normalise_name(raw, rules) == expected


def test_clean_text_folds_case_accents_and_punctuation():
    out = clean_text(pa.array(["  Crème-Brûlée  S.A.S. ", "AT&T", "Ørsted A/S", None]))
    assert out.to_pylist() == ["creme brulee sas", "at and t", "orsted as", ""]


def test_normalise_names_is_elementwise_on_arrays(rules):
    raw = np.array(["Siemens AG", "", "Siemens plc", "Deutsche Bank AG"], dtype=object)
    assert list(normalise_names(raw, rules)) == ["siemens", "", "siemens", "deutsche bank"]


def test_name_table_comparison_forms(rules):
    table = NameTable.from_norms(np.array(["deutsche bank", "bank deutsche", "telecom", ""], dtype=object), rules.generic_words)
    assert list(table.compact) == ["deutschebank", "bankdeutsche", "telecom", ""]
    assert list(table.sorted) == ["bank deutsche", "bank deutsche", "telecom", ""]
    assert list(table.generic_only) == [False, False, True, True]
    assert table.tokens(1) == ["bank", "deutsche"]
    assert list(table.token_counts) == [2, 2, 1, 0]
    assert sorted(table.rank) == [0, 1, 2, 3] and table.rank[3] == 0  # "" sorts first
