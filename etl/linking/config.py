"""The linker's two config files, validated on load.

* ``config/account_linking.json`` (`LinkingConfig`): thresholds, bonuses,
  blocking limits, clustering guards and the word lists of name normalisation.
  Every number an analyst may want to tune lives here, not in code.
* ``config/manual_account_linkages.json`` (`ManualLinkages`): the account
  team's must-link and must-not-link decisions.  They always win over the
  machine, so they are checked harder than the rest: a pair may not link an
  account to itself, nor appear both as must-link and must-not-link.

Both load through `etl.settings.load_config`, so a bad file raises
`ConfigError(file, key, problem)` before anything is computed, and any key can
be overridden from the environment (``C360_ACCOUNT_LINKING__FUZZY__MIN_SIMILARITY=88``).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from etl.errors import ConfigError
from etl.settings import load_config

LINKING_FILE = "account_linking.json"
MANUAL_FILE = "manual_account_linkages.json"

Score = Annotated[float, Field(ge=0, le=100)]
Word = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ExactMethod(_Strict):
    """Identical normalised names (ignoring spaces)."""

    confidence: Score


class FuzzyMethod(_Strict):
    """Similar normalised names.  The base confidence is the similarity capped
    at ``max_base_confidence`` so that a near-identical spelling never looks as
    certain as an identical one; the bonuses reward independent evidence."""

    min_similarity: Score
    max_base_confidence: Score
    same_parent_bonus: Annotated[float, Field(ge=0, le=50)]
    shared_contact_bonus: Annotated[float, Field(ge=0, le=50)]
    min_token_similarity: Score = Field(
        description="every word of each name must have a counterpart in the other at least this similar"
    )

    @model_validator(mode="after")
    def _base_not_below_threshold(self) -> Self:
        if self.max_base_confidence < self.min_similarity:
            raise ValueError("max_base_confidence must be >= min_similarity")
        return self


class ParentMethod(_Strict):
    confidence: Score
    min_similarity: Score


class ContactMethod(_Strict):
    confidence: Score
    min_similarity: Score
    generic_mailboxes: list[Word] = Field(description="local parts that are shared inboxes, not people")
    freemail_domains: list[Word] = Field(description="exact domains, or 'label.*' for any top-level domain")
    max_accounts_per_contact: int = Field(
        ge=2, description="an email or phone on more accounts than this is a shared service, not evidence"
    )
    min_phone_digits: int = Field(ge=4, le=15)


class ManualMethod(_Strict):
    confidence: Score


class Methods(_Strict):
    exact: ExactMethod
    fuzzy: FuzzyMethod
    parent: ParentMethod
    contact: ContactMethod
    manual: ManualMethod


class Thresholds(_Strict):
    """A pair at ``accept_min_confidence`` or above is linked.  A pair below it
    goes to review when its confidence (or, with no method matched, its name
    similarity) is at least ``review_min_confidence`` and, for name-only
    pairs, every word has a counterpart at least ``review_min_word_similarity``
    alike: otherwise the queue fills with "Acme Telecom" / "Zeta Telecom"."""

    accept_min_confidence: Score
    review_min_confidence: Score
    review_min_word_similarity: Score

    @model_validator(mode="after")
    def _band_is_ordered(self) -> Self:
        if self.review_min_confidence > self.accept_min_confidence:
            raise ValueError("review_min_confidence must be <= accept_min_confidence")
        return self


class Clustering(_Strict):
    chain_min_confidence: Score = Field(
        description="a cluster held together only through weaker links, with members not linked directly, is a chain"
    )
    max_cluster_size: int = Field(ge=2)


class Blocking(_Strict):
    max_block_size: int = Field(ge=2, description="blocks up to this size are compared all-pairs")
    neighbourhood_window: int = Field(
        ge=1, description="larger blocks: each member is compared with this many next members in name order"
    )
    rare_tokens_per_account: int = Field(ge=0, le=5)
    prefix_length: int = Field(ge=2, le=20)
    keys: list[
        Annotated[
            str,
            StringConstraints(
                pattern=r"^(name|rare_token|first_token|prefix|suffix|sorted_prefix|parent|email|phone|domain)$"
            ),
        ]
    ] = Field(min_length=1)


class Normalisation(_Strict):
    use_cleanco_legal_forms: bool
    include_country_names: bool = Field(description="add pycountry's English country names to the qualifiers")
    extra_legal_forms: list[Word]
    excluded_legal_forms: list[Word]
    prefix_legal_forms: list[Word]
    country_qualifiers: list[Word]
    designators: list[Word] = Field(description="trailing words such as 'group', 'holding', 'branch'")
    generic_words: list[Word] = Field(description="industry words that cannot identify a company on their own")
    connector_words: list[Word] = Field(description="a name may not be cut to end on one of these ('Bank of')")
    stopwords: list[Word] = Field(description="never used as a blocking token")
    word_forms: dict[Word, str] = Field(
        description="written form -> canonical word ('intl' -> 'international', 'telecoms' -> 'telecom'); '' drops it"
    )


class Performance(_Strict):
    workers: int = Field(ge=1, le=64)
    chunk_size: int = Field(ge=1000)


class LinkingConfig(_Strict):
    methods: Methods
    thresholds: Thresholds
    clustering: Clustering
    blocking: Blocking
    normalisation: Normalisation
    performance: Performance

    @model_validator(mode="after")
    def _methods_fit_thresholds(self) -> Self:
        if self.methods.fuzzy.min_similarity < self.thresholds.review_min_confidence:
            raise ValueError("methods.fuzzy.min_similarity must be >= thresholds.review_min_confidence")
        return self


AccountId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class ManualPair(_Strict):
    account_a: AccountId
    account_b: AccountId
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3)]
    author: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
    date: date

    @model_validator(mode="after")
    def _two_accounts(self) -> Self:
        if self.account_a == self.account_b:
            raise ValueError("account_a and account_b must differ")
        return self

    @property
    def key(self) -> tuple[str, str]:
        return (min(self.account_a, self.account_b), max(self.account_a, self.account_b))


class ManualLinkages(_Strict):
    must_link: list[ManualPair]
    must_not_link: list[ManualPair]


def merge_manual_decisions(existing: ManualLinkages | None, decisions: list[tuple[str, str, str, str, str, date]]) -> ManualLinkages:
    """Decisions made later (through the API) over the file's: for a pair decided again, the newer decision wins.

    ``decisions`` are (account_a, account_b, "must_link" | "must_not_link", reason, author, date), oldest first.
    """
    decided: dict[tuple[str, str], tuple[str, ManualPair]] = {}
    for a, b, kind, reason, author, day in decisions:
        if kind not in ("must_link", "must_not_link"):
            raise ValueError(f"unknown link decision {kind!r} for {a}/{b}")
        pair = ManualPair(account_a=a, account_b=b, reason=reason, author=author, date=day)
        decided[pair.key] = (kind, pair)
    must: list[ManualPair] = []
    must_not: list[ManualPair] = []
    if existing is not None:
        must += [p for p in existing.must_link if p.key not in decided]
        must_not += [p for p in existing.must_not_link if p.key not in decided]
    for kind, pair in decided.values():
        (must if kind == "must_link" else must_not).append(pair)
    return ManualLinkages(must_link=must, must_not_link=must_not)


def load_linking_config(path: Path, environ: dict[str, str] | None = None) -> LinkingConfig:
    """Read and validate ``account_linking.json`` (raises `ConfigError`)."""
    return load_config(Path(path), LinkingConfig, environ=environ)


def load_manual_linkages(path: Path, environ: dict[str, str] | None = None) -> ManualLinkages:
    """Read and validate the manual decisions, refusing contradictory ones.

    A pair listed both as must-link and must-not-link has no defensible
    reading, so it stops the run naming the offending entry instead of letting
    list order decide.
    """
    manual = load_config(Path(path), ManualLinkages, environ=environ)
    must = {p.key: i for i, p in enumerate(manual.must_link)}
    for i, pair in enumerate(manual.must_not_link):
        if pair.key in must:
            raise ConfigError(
                str(path),
                f"must_not_link.{i}",
                f"pair {pair.key[0]} / {pair.key[1]} is also must_link.{must[pair.key]}",
            )
    return manual
