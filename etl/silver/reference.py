"""Reference data silver normalises against: countries, sales regions,
telephone calling codes and currencies.

Everything here is built once per process from pycountry / phonenumbers
metadata (a few hundred entries, never per row) and cached; the transforms
resolve the *distinct* values of a column against these tables and map the
result back onto the rows.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache

import numpy as np
import pycountry
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata

REGIONS = ("AMER", "EMEA", "APAC")

# Sales regions of a B2B telecom.  Geography decides, with these judgement calls:
# Greenland, US territories (UM) and South Georgia go with the Americas; the
# Middle East, Turkey, the Caucasus, Central Asia and Russia with EMEA; South
# Asia (incl. Afghanistan), Oceania, the Indian Ocean territory and Antarctica
# with APAC; Bouvet Island and the French Southern Territories with EMEA.
_REGION_MEMBERS: dict[str, str] = {
    "AMER": """
        AG AI AR AW BB BL BM BO BQ BR BS BZ CA CL CO CR CU CW DM DO EC FK GD GF GL GP GS GT
        GY HN HT JM KN KY LC MF MQ MS MX NI PA PE PM PR PY SR SV SX TC TT UM US UY VC VE VG VI
    """,
    "EMEA": """
        AD AL AT AX BA BE BG BY CH CY CZ DE DK EE ES FI FO FR GB GG GI GR HR HU IE IM IS IT JE
        LI LT LU LV MC MD ME MK MT NL NO PL PT RO RS RU SE SI SJ SK SM TR UA VA
        AE BH IL IQ IR JO KW LB OM PS QA SA SY YE AM AZ GE KZ KG TJ TM UZ
        AO BF BI BJ BW CD CF CG CI CM CV DJ DZ EG EH ER ET GA GH GM GN GQ GW KE KM LR LS LY
        MA MG ML MR MU MW MZ NA NE NG RE RW SC SD SH SL SN SO SS ST SZ TD TG TN TZ UG YT ZA
        ZM ZW BV TF
    """,
    "APAC": """
        AF AS AU BD BN BT CC CK CN CX FJ FM GU HK HM ID IN IO JP KH KI KP KR LA LK MH MM MN
        MO MP MV MY NC NF NP NR NU NZ PF PG PH PK PN PW SB SG TH TK TL TO TV TW VN VU WF WS AQ
    """,
}

# Names people type that pycountry does not carry (pycountry's own common and
# official names are added automatically).  Keys are compared after `country_key`.
COUNTRY_ALIASES: dict[str, str] = {
    "uk": "GB", "united kingdom": "GB", "great britain": "GB", "britain": "GB", "england": "GB",
    "scotland": "GB", "wales": "GB", "northern ireland": "GB",
    "usa": "US", "us": "US", "united states": "US", "united states of america": "US", "america": "US",
    "holland": "NL", "netherlands": "NL",
    "korea": "KR", "republic of korea": "KR", "south korea": "KR",
    "russia": "RU", "czech republic": "CZ", "turkey": "TR", "ivory coast": "CI",
    "macedonia": "MK", "swaziland": "SZ", "burma": "MM", "hong kong": "HK", "macau": "MO",
    "macao": "MO", "brunei": "BN", "cape verde": "CV", "palestine": "PS", "vatican": "VA",
    "vatican city": "VA", "uae": "AE", "emirates": "AE", "ksa": "SA",
    "deutschland": "DE", "espana": "ES", "suisse": "CH", "schweiz": "CH", "osterreich": "AT",
    "the bahamas": "BS", "the gambia": "GM", "congo": "CG", "dr congo": "CD", "drc": "CD",
    "democratic republic of congo": "CD", "east timor": "TL", "micronesia": "FM",
}

_PUNCT = re.compile(r"[^\w\s]")
_SPACE = re.compile(r"\s+")


def country_key(text: str) -> str:
    """Comparable form of a typed country: accents, punctuation, case and a leading 'the' removed."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    plain = _SPACE.sub(" ", _PUNCT.sub("", plain.casefold().replace("&", " and "))).strip()
    return plain.removeprefix("the ")


@cache
def region_of_country() -> dict[str, str]:
    """ISO 3166-1 alpha-2 -> AMER / EMEA / APAC, for every ISO country."""
    table: dict[str, str] = {}
    for region, members in _REGION_MEMBERS.items():
        for code in members.split():
            table[code] = region
    return table


@cache
def country_lookup() -> dict[str, str]:
    """Every accepted spelling (alpha-2, alpha-3, names, aliases), keyed by `country_key`."""
    table: dict[str, str] = {}
    for country in pycountry.countries:
        code = country.alpha_2
        for attr in ("name", "official_name", "common_name"):
            name = getattr(country, attr, None)
            if name:
                table[country_key(name)] = code
        table[country_key(country.alpha_3)] = code
        table[country_key(code)] = code
    for alias, code in COUNTRY_ALIASES.items():
        table[country_key(alias)] = code
    return table


def resolve_country(text: str, extra_aliases: dict[str, str] | None = None) -> str | None:
    """One typed country -> ISO alpha-2, or None when it is not a country we know."""
    key = country_key(text)
    if extra_aliases:
        extra = {country_key(k): v.upper() for k, v in extra_aliases.items()}
        if key in extra:
            return extra[key]
    return country_lookup().get(key)


@cache
def iso_currencies() -> frozenset[str]:
    return frozenset(c.alpha_3 for c in pycountry.currencies)


def is_iso_country(code: str) -> bool:
    return code in region_of_country()


# ----------------------------------------------------------------- telephone numbering


@dataclass(frozen=True)
class NumberingPlan:
    """Per-country dialling facts, as arrays indexed by a country's position in `regions`.

    `allowed_length[i, n]` says whether a national significant number of n digits
    is possible in country i; `cc_allowed_length[c, n]` is the same for calling
    code c (union over the countries sharing it), used for numbers written in
    international form.
    """

    regions: tuple[str, ...]
    calling_code: np.ndarray  # int64 per region
    national_prefix: tuple[str, ...]  # trunk prefix ("0", "1", "8", "06") or ""
    international_prefix: tuple[str, ...]  # plain-digit exit code ("00", "011", "810")
    allowed_length: np.ndarray  # bool [n_regions, 18]
    calling_codes: frozenset[int]
    cc_allowed_length: dict[int, np.ndarray]  # calling code -> bool[18]


MAX_E164_DIGITS = 15
_LEN = MAX_E164_DIGITS + 3


@cache
def numbering_plan() -> NumberingPlan:
    regions: list[str] = []
    codes: list[int] = []
    trunk: list[str] = []
    exits: list[str] = []
    rows: list[np.ndarray] = []
    by_cc: dict[int, np.ndarray] = {}
    for cc, members in COUNTRY_CODE_TO_REGION_CODE.items():
        for region in members:
            if region == "001":
                meta = PhoneMetadata.metadata_for_nongeo_region(cc)
            else:
                meta = PhoneMetadata.metadata_for_region(region)
            allowed = np.zeros(_LEN, dtype=bool)
            lengths = [n for n in (meta.general_desc.possible_length if meta else ()) if 0 < n < _LEN]
            if lengths:
                allowed[lengths] = True
            else:  # no metadata: accept any length E.164 allows
                allowed[4 : MAX_E164_DIGITS + 1] = True
            by_cc[cc] = by_cc.get(cc, np.zeros(_LEN, dtype=bool)) | allowed
            if region == "001":
                continue
            regions.append(region)
            codes.append(cc)
            trunk.append((meta.national_prefix or "") if meta else "")
            exit_code = (meta.international_prefix or "") if meta else ""
            exits.append(exit_code if exit_code.isdigit() else "00")
            rows.append(allowed)
    return NumberingPlan(
        regions=tuple(regions),
        calling_code=np.array(codes, dtype=np.int64),
        national_prefix=tuple(trunk),
        international_prefix=tuple(exits),
        allowed_length=np.vstack(rows),
        calling_codes=frozenset(by_cc),
        cc_allowed_length=by_cc,
    )


__all__ = [
    "COUNTRY_ALIASES",
    "MAX_E164_DIGITS",
    "REGIONS",
    "NumberingPlan",
    "country_key",
    "country_lookup",
    "is_iso_country",
    "iso_currencies",
    "numbering_plan",
    "region_of_country",
    "resolve_country",
]
