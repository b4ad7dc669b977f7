"""Company-name normalisation, vectorised over the unique names.

Regional accounts of one company differ mostly in what surrounds the name:
the legal form ("GmbH", "plc", "S.p.A.", "K.K."), a country or region
qualifier ("Deutschland", "(Schweiz)", "UK", "EMEA"), a designator ("Group",
"Holding", "Branch"), accents, punctuation and case.  Stripping exactly those
leaves the part that identifies the company, which the matchers compare.

Everything runs as pyarrow compute kernels (RE2 regular expressions, a DFA,
so one alternation of a few hundred legal forms costs about as much as one
literal) or numpy over token codes: no Python loop per name.

Word forms ("intl" -> "international", "telecoms" -> "telecom") are mapped
before stripping, so variants of one word compare equal.

Two guards keep stripping from manufacturing matches in real data:

* a country/designator word is not stripped when what remains would end on a
  connector ("Bank of America" stays whole, so it never equals "Bank of China");
* nor when what remains would be one generic word ("Telekom Austria" stays
  whole, so it never equals "Telekom Deutschland").

Legal forms come from cleanco's maintained term list (its data, not its
per-name Python function, which is far too slow for a million names and knows
nothing of country qualifiers) plus the config's ``extra_legal_forms``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from etl.linking.config import Normalisation

# Letters NFKD does not decompose into a base letter plus marks.
_SPECIAL_LETTERS = {"ß": "ss", "ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i"}
_WEB_SUFFIX = r"(\pL)\.(?:com|net|org|io)([^\pL\pN]|$)"  # "Amazon.com" -> "amazon"


def clean_text(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Fold case and accents, drop punctuation; terms and names share this so they compare.

    Dots and apostrophes vanish ("S.p.A." -> "spa", "McDonald's" -> "mcdonalds"),
    a slash between single letters joins them ("A/S" -> "as"), "&" reads as
    "and", and any other run of non-letters/digits becomes one space.
    """
    x = pc.fill_null(values, "")
    x = pc.utf8_normalize(x, form="NFKD")
    x = pc.replace_substring_regex(x, r"\p{Mn}+", "")
    x = pc.utf8_lower(x)
    for src, dst in _SPECIAL_LETTERS.items():
        x = pc.replace_substring(x, src, dst)
    x = pc.replace_substring_regex(x, _WEB_SUFFIX, r"\1\2")
    x = pc.replace_substring_regex(x, r"\b(\pL)/(\pL)\b", r"\1\2")
    x = pc.replace_substring_regex(x, r"[.'’`´]", "")
    x = pc.replace_substring(x, "&", " and ")
    x = pc.replace_substring_regex(x, r"[^\pL\pN]+", " ")
    x = pc.utf8_trim_whitespace(x)
    return x.combine_chunks() if isinstance(x, pa.ChunkedArray) else x


def _word_forms(values: pa.Array, forms: dict[str, str]) -> pa.Array:
    """Replace whole words by their canonical form ("intl" -> "international"); "" drops the word.

    Mapped on the dictionary of distinct words, so the Python work is per
    distinct word, not per name.
    """
    offsets, flat = _split(values)
    if not forms or not len(flat):
        return values
    codes, uniques = _codes(flat)
    mapped = np.array([forms.get(v, v) for v in uniques], dtype=object)
    words = mapped[codes]
    keep = words != ""
    owner = np.repeat(np.arange(len(values)), np.diff(offsets))[keep]
    new_offsets = np.zeros(len(values) + 1, dtype=np.int64)
    np.cumsum(np.bincount(owner, minlength=len(values)), out=new_offsets[1:])
    return _join(new_offsets, pa.array(words[keep], pa.string()))


def _clean_terms(terms: list[str], forms: dict[str, str]) -> list[str]:
    """Terms cleaned like names, longest first (so alternations prefer the longest).

    Only the dropping word forms apply ("gmbh & co kg" -> "gmbh co kg", as in
    names); expansions do not, or cleanco's "ent." (enterprise) would become
    "entertainment" and strip that word from names.  Names get expansions,
    so both the short and the long form of a legal form belong in the lists.
    """
    if not terms:
        return []
    cleaned = _word_forms(clean_text(pa.array(terms, pa.string())), forms).to_pylist()
    return sorted({t for t in cleaned if t}, key=lambda t: (-len(t), t))


@functools.lru_cache(maxsize=1)
def _cleanco_terms() -> tuple[str, ...]:
    from cleanco.termdata import terms_by_country, terms_by_type

    terms = [t for ts in terms_by_type.values() for t in ts] + [t for ts in terms_by_country.values() for t in ts]
    return tuple(t.strip() for t in terms if t.strip())


@functools.lru_cache(maxsize=1)
def _country_names() -> tuple[str, ...]:
    import pycountry

    names = []
    for c in pycountry.countries:
        for attr in ("name", "common_name"):
            value = getattr(c, attr, None)
            if value and "," not in value:
                names.append(value)
    return tuple(names)


def _alternation(terms: list[str]) -> str:
    for t in terms:
        if not all(ch.isalnum() or ch == " " for ch in t):  # clean_text guarantees this
            raise ValueError(f"term {t!r} is not normalised")
    return "|".join(terms)


@dataclass(frozen=True)
class NameRules:
    """The normalisation word lists, cleaned once and compiled into patterns."""

    word_forms: dict[str, str]
    prefix_pattern: str
    legal_pattern: str
    qualifier_pattern: str
    connector_pattern: str
    generic_words: frozenset[str]
    stopwords: frozenset[str]
    legal_forms: tuple[str, ...]

    @classmethod
    def from_config(cls, cfg: Normalisation) -> NameRules:
        """Compile the rules (cached per distinct configuration: tests and reruns reuse them)."""
        return _rules_from_json(cfg.model_dump_json())

    @classmethod
    def _build(cls, cfg: Normalisation) -> NameRules:
        keys = clean_text(pa.array(list(cfg.word_forms), pa.string())).to_pylist()
        values = clean_text(pa.array(list(cfg.word_forms.values()), pa.string())).to_pylist()
        forms = {k: v for k, v in zip(keys, values) if k and " " not in k}
        drops = {k: v for k, v in forms.items() if v == ""}
        legal = list(cfg.extra_legal_forms) + (list(_cleanco_terms()) if cfg.use_cleanco_legal_forms else [])
        excluded = set(_clean_terms(list(cfg.excluded_legal_forms), drops))
        legal_c = [t for t in _clean_terms(legal, drops) if t not in excluded]
        countries = list(cfg.country_qualifiers) + (list(_country_names()) if cfg.include_country_names else [])
        qualifiers = legal_c + _clean_terms(countries + list(cfg.designators), forms)
        prefixes = _clean_terms(list(cfg.prefix_legal_forms), drops)
        connectors = _clean_terms(list(cfg.connector_words), drops)
        return cls(
            word_forms=forms,
            prefix_pattern=rf"^(?:(?:{_alternation(prefixes)}) )+(\S.*)$",
            legal_pattern=rf"^(\S.*?)(?: (?:{_alternation(legal_c)}))+$",
            qualifier_pattern=rf"^(\S.*?)(?: (?:{_alternation(qualifiers)}))+$",
            connector_pattern=rf"(?:^| )(?:{_alternation(connectors)})$",
            generic_words=frozenset(_clean_terms(list(cfg.generic_words), forms)),
            stopwords=frozenset(_clean_terms(list(cfg.stopwords), forms)),
            legal_forms=tuple(legal_c),
        )


@functools.lru_cache(maxsize=8)
def _rules_from_json(doc: str) -> NameRules:
    return NameRules._build(Normalisation.model_validate_json(doc))


@dataclass(frozen=True)
class NameTable:
    """One row per distinct normalised name; the arrays are aligned.

    ``norm`` keeps the word order, ``compact`` drops the spaces (the exact-match
    key, so "Deutsche Bank" equals "DeutscheBank"), ``sorted`` orders the words
    (a plain ratio on it is rapidfuzz's token_sort_ratio, without re-sorting
    the words for every pair).  ``rank`` is the alphabetical position of
    ``norm``, the order in which oversized blocks are windowed.  Words are
    stored flat: the words of name i are
    ``token_values[token_codes[token_offsets[i]:token_offsets[i + 1]]]``, and
    code order is alphabetical order.
    """

    norm: np.ndarray
    compact: np.ndarray
    sorted: np.ndarray
    generic_only: np.ndarray
    rank: np.ndarray
    token_offsets: np.ndarray
    token_codes: np.ndarray
    token_values: np.ndarray

    def __len__(self) -> int:
        return len(self.norm)

    @property
    def token_counts(self) -> np.ndarray:
        return np.diff(self.token_offsets)

    def tokens(self, i: int) -> list[str]:
        """The words of one name (for tests and evidence, not the hot path)."""
        a, b = self.token_offsets[i], self.token_offsets[i + 1]
        return [str(v) for v in self.token_values[self.token_codes[a:b]]]

    @classmethod
    def from_norms(cls, norms: np.ndarray, generic_words: frozenset[str]) -> NameTable:
        """Derive the comparison forms of distinct normalised names (vectorised)."""
        arr = pa.array(np.asarray(norms, dtype=object), pa.string())
        n = len(arr)
        offsets, flat = _split(arr)
        if len(flat):
            codes, values = _codes(flat)
        else:
            codes, values = np.zeros(0, np.int64), np.zeros(0, dtype=object)
        counts = np.diff(offsets)
        owner = np.repeat(np.arange(n), counts)
        generic = _to_bool(pc.is_in(arr, pa.array(sorted(generic_words), pa.string())))
        order = np.lexsort((codes, owner))  # codes order like the words: sort within each name
        sorted_names = _join(offsets, pa.array(values[codes[order]] if len(codes) else [], pa.string()))
        rank = np.empty(n, dtype=np.int64)
        rank[pc.sort_indices(arr).to_numpy()] = np.arange(n)
        return cls(
            norm=np.asarray(norms, dtype=object),
            compact=np.asarray(pc.replace_substring(arr, " ", "").to_numpy(zero_copy_only=False), dtype=object),
            sorted=np.asarray(sorted_names.to_numpy(zero_copy_only=False), dtype=object),
            generic_only=(counts == 0) | ((counts == 1) & generic),
            rank=rank,
            token_offsets=offsets,
            token_codes=codes,
            token_values=values,
        )


def _split(values: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """Offsets and flat word array of space-separated strings ("" has no words)."""
    lists = pc.split_pattern(values, " ")
    flat = pc.list_flatten(lists)
    parents = pc.list_parent_indices(lists).to_numpy()
    keep = _to_bool(pc.not_equal(flat, ""))
    flat = flat.filter(pa.array(keep))
    counts = np.bincount(parents[keep], minlength=len(values))
    offsets = np.zeros(len(values) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return offsets, flat


def _to_bool(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=bool)


def _join(offsets: np.ndarray, flat: pa.Array) -> pa.Array:
    lists = pa.ListArray.from_arrays(pa.array(offsets, pa.int64()).cast(pa.int32()), flat)
    return pc.binary_join(lists, " ")


def _codes(flat: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Dictionary codes of a flat word array, with the dictionary sorted so code order is word order."""
    codes, uniques = pd.factorize(pd.Series(flat.to_numpy(zero_copy_only=False), dtype=object), sort=True)
    return codes.astype(np.int64), np.asarray(uniques, dtype=object)


def normalise_names(raw_names: np.ndarray | pd.Series | list[str], rules: NameRules) -> np.ndarray:
    """The normalised form of each name (callers pass distinct names: normalise once)."""
    raw = np.asarray(pd.Series(raw_names, dtype=object).fillna(""), dtype=object)
    x = clean_text(pa.array(raw, pa.string()))

    x = _word_forms(x, rules.word_forms)
    x = pc.replace_substring_regex(x, rules.prefix_pattern, r"\1")
    legal = pc.replace_substring_regex(x, rules.legal_pattern, r"\1")
    qualified = pc.replace_substring_regex(legal, rules.qualifier_pattern, r"\1")

    # Revert the qualifier cut where it would leave "bank of" or one generic word ("telekom").
    generic_words = pa.array(sorted(rules.generic_words), pa.string())
    one_generic = _to_bool(pc.is_in(qualified, generic_words))  # a single generic word is the whole remainder
    ends_on_connector = _to_bool(pc.match_substring_regex(qualified, rules.connector_pattern))
    final = pc.if_else(pa.array(ends_on_connector | one_generic), legal, qualified)
    return np.asarray(final.to_numpy(zero_copy_only=False), dtype=object)


def normalise_name(name: str, rules: NameRules) -> str:
    """One name, for tests and the docs (the linker normalises arrays)."""
    return str(normalise_names([name], rules)[0])
