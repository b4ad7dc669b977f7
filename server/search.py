"""Customer name search for autocomplete: prefix first, then typo-tolerant.

Every word of every name is indexed; a query matches a name when each query
word is a prefix of one of the name's words (the last word may be partial,
as typed).  The sorted word list makes each prefix a binary search.  When
prefixes find fewer hits than asked for, a trigram index narrows the
candidates for a fuzzy (edit-distance) pass, so "Acme Telcom" still finds
"Acme Telecom GmbH" without scanning every name.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from collections import defaultdict

import numpy as np

_WORD = re.compile(r"[0-9a-z]+")


def fold(text: str) -> str:
    """Lower-case, accent-free text, so "Zürich" matches "zurich"."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def words(text: str) -> list[str]:
    return _WORD.findall(fold(text))


def _trigrams(word: str) -> set[str]:
    padded = f"  {word} "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


class NameIndex:
    def __init__(self, ids: np.ndarray, names: np.ndarray):
        self.ids = ids
        self.names = names
        postings: dict[str, list[int]] = defaultdict(list)
        for pos, name in enumerate(names):
            for w in set(words(name)):
                postings[w].append(pos)
        self.vocab = sorted(postings)
        self.postings = [np.asarray(postings[w], dtype=np.int64) for w in self.vocab]
        grams: dict[str, list[int]] = defaultdict(list)
        for i, w in enumerate(self.vocab):
            for g in _trigrams(w):
                grams[g].append(i)
        self.grams = {g: np.asarray(v, dtype=np.int64) for g, v in grams.items()}

    def _prefix_positions(self, prefix: str) -> np.ndarray:
        lo = bisect_left(self.vocab, prefix)
        hi = bisect_left(self.vocab, prefix + "\uffff")
        if lo == hi:
            return np.empty(0, dtype=np.int64)
        return np.unique(np.concatenate(self.postings[lo:hi]))

    def _fuzzy_word_positions(self, word: str, max_edits: int) -> np.ndarray:
        from rapidfuzz.distance import Levenshtein

        grams = [self.grams[g] for g in _trigrams(word) if g in self.grams]
        if not grams:
            return np.empty(0, dtype=np.int64)
        counts = np.bincount(np.concatenate(grams), minlength=len(self.vocab))
        candidates = np.flatnonzero(counts >= max(1, len(_trigrams(word)) - 3 * max_edits))
        hits = [
            self.postings[i]
            for i in candidates
            if Levenshtein.distance(word, self.vocab[i][: len(word) + max_edits], score_cutoff=max_edits) <= max_edits
        ]
        return np.unique(np.concatenate(hits)) if hits else np.empty(0, dtype=np.int64)

    def search(self, query: str, limit: int = 10) -> list[tuple[str, float]]:
        """(account id, score 0-100) best first: exact-prefix matches outrank typo matches."""
        terms = words(query)
        if not terms or limit <= 0:
            return []
        exact = self._match(terms, fuzzy=False)
        ranked = self._rank(exact, terms, 100.0)
        if len(ranked) < limit:
            seen = {i for i, _ in ranked}
            fuzzy = [p for p in self._match(terms, fuzzy=True) if self.ids[p] not in seen]
            ranked += self._rank(np.asarray(fuzzy, dtype=np.int64), terms, 80.0)
        return ranked[:limit]

    def _match(self, terms: list[str], fuzzy: bool) -> np.ndarray:
        result: np.ndarray | None = None
        for t in terms:
            pos = self._prefix_positions(t)
            if fuzzy and len(t) >= 4:
                pos = np.union1d(pos, self._fuzzy_word_positions(t, 1 if len(t) < 8 else 2))
            result = pos if result is None else np.intersect1d(result, pos, assume_unique=True)
            if len(result) == 0:
                break
        return result if result is not None else np.empty(0, dtype=np.int64)

    def _rank(self, positions: np.ndarray, terms: list[str], base: float) -> list[tuple[str, float]]:
        if len(positions) == 0:
            return []
        query = " ".join(terms)
        scored = []
        for p in positions[:5000]:
            name = fold(self.names[p])
            # names that start with the query and short names (closer to what was typed) come first
            bonus = (10.0 if name.startswith(query) else 0.0) - min(len(name), 60) / 12
            scored.append((str(self.ids[p]), round(base + bonus, 2), self.names[p]))
        scored.sort(key=lambda t: (-t[1], t[2], t[0]))
        return [(i, s) for i, s, _ in scored]
