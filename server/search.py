"""Customer name search for autocomplete: ranked prefix matches first, then typo-tolerant ones.

A query's words (case- and accent-folded, see `words`) match a name when
each one is a prefix of one of the name's words; the last word may be
partial, as typed.  Hits come in four tiers:

1. exact: the name is the query, give or take its legal form ("acme
   telecom" is exactly "Acme Telecom GmbH");
2. the name starts with the query ("acme te");
3. every query word starts a word of the name ("telecom schw");
4. typos, only while the tiers above found fewer than `limit`: a query word
   of 4 or more letters may be one edit (two from 8 letters) away from the
   start of a word of the name, counting a swap of neighbours as one edit
   (OSA distance); fewer edits first, then names whose whole word is that
   close ("terits" is one edit from all of "teritis", but only from the start
   of "territs..."), as a typed word is more often whole than cut short.

Within a tier, shorter names come first (closer to what was typed), then
the larger ARR, then the name, then the account id: one fixed order of all
names, their *rank*.  The score is ``tier - min(len(key), 60) / 12`` with
tiers 130, 115, 105 and, for typos, 95 less 10 per further edit and 5 when
a word matched only by its start; so a score of 100 or more is a prefix
match, and a higher score always ranks first.

Built with array operations only (no Python loop per name: about a second
for a million names), and no query reads all the names that match it:

* tiers 1-2: the keys ("acme telecom gmbh") sorted, so the names starting
  with the query are one binary-search range; the best-ranked names of any
  range come from a sparse table of per-block minima (`RangeSmallest`), so
  "a" costs the same as "acme";
* tier 3: (word, rank) pairs sorted, so the names with a word starting
  with a prefix are again one range, its best ranks from another sparse
  table, and each word's names are in rank order;
* tier 4: a trigram index over the distinct words gives the candidate
  words (one sharing too few of the typed word's trigrams cannot be that
  close); one OSA distance per candidate, from its start as long as the
  typed word, drops most of them (a start within e edits leaves that one
  within 2e), and one rapidfuzz ``cdist`` call compares every start of a
  length that counts of the rest.  Each close word's first names by rank,
  in (cost, rank) order, are the hits.

A typo query is a few dozen numpy calls and two ``cdist`` calls however
many names there are; at ~1 us a call, their number is most of its cost, so
small per-query steps (a word's trigrams, the final ranking) are plain Python.
"""

from __future__ import annotations

import re
import time
from itertools import repeat

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from etl.arrays import distinct
from server._namekeys import fold, tokenise
from server._ranges import RangeSmallest, SortedStrings, fixed_width

_WORD = re.compile(r"[0-9a-z]+")

EXACT, NAME_PREFIX, WORD_PREFIX, TYPO = 130.0, 115.0, 105.0, 95.0
TYPO_EDIT = 10.0  # less per edit after the first
TYPO_START = 5.0  # less when a query word is that close only to the start of a word
LENGTH_CAP = 60  # characters of the key that count against the score
MIN_TYPO_WORD = 4  # shorter query words only match as prefixes


def words(text: str) -> list[str]:
    return _WORD.findall(fold(text))


def max_edits(word: str) -> int:
    if len(word) < MIN_TYPO_WORD:
        return 0
    return 1 if len(word) < 8 else 2


class NameIndex:
    """Search over `names`; `ids[i]` is the account id of `names[i]`, `arr[i]` its ARR (ranks ties).

    `block` is `RangeSmallest`'s block size (tests make it small to exercise the sparse tables).
    """

    def __init__(self, ids, names, arr=None, *, block: int = 1024):
        started = time.perf_counter()
        self.ids = np.asarray(ids, dtype=object)
        if not isinstance(names, pa.Array | pa.ChunkedArray):
            names = pa.array(np.asarray(names, dtype=object), pa.string(), from_pandas=True)
        tok = tokenise(names)
        n = len(tok.keys)
        if len(self.ids) != n:
            raise ValueError(f"{len(self.ids)} ids for {n} names")
        weight = np.zeros(n) if arr is None else np.nan_to_num(np.asarray(arr, dtype=float), nan=-np.inf)

        # the rank: shorter key, larger ARR, key, position (the caller's order: account id)
        key_order = pc.sort_indices(tok.keys).to_numpy()
        key_pos = np.empty(n, dtype=np.int32)
        key_pos[key_order] = np.arange(n, dtype=np.int32)
        length = np.minimum(tok.key_len, LENGTH_CAP)
        by_rank = np.lexsort((key_pos, -weight, length)).astype(np.int32)
        del key_pos, weight
        rank = np.empty(n, dtype=np.int32)
        rank[by_rank] = np.arange(n, dtype=np.int32)
        self._pos = by_rank  # rank -> position in ids
        self._length = length[by_rank].astype(np.uint8)

        # tiers 1-2: keys in sorted order
        self._keys = SortedStrings(tok.keys.take(pa.array(key_order)))
        self._key_rank = RangeSmallest(rank[key_order], block)
        self._key_len = np.minimum(tok.key_len[key_order], 65535).astype(np.uint16)
        self._core_len = np.minimum(tok.core_len[key_order], 65535).astype(np.uint16)
        del key_order

        # tier 3: (word, rank) pairs sorted; word w's names are pair rows word_offs[w]:word_offs[w + 1]
        nwords, size = len(tok.vocab), max(n, 1)
        pairs = tok.word.astype(np.int64)
        pairs *= size
        pairs += rank[tok.owner]
        pairs.sort()
        if len(pairs):
            pairs = pairs[np.r_[True, pairs[1:] != pairs[:-1]]]  # a word twice in one name counts once
        self._word_offs = np.searchsorted(pairs, np.arange(nwords + 1, dtype=np.int64) * size)
        np.remainder(pairs, size, out=pairs)
        self._pairs = RangeSmallest(pairs.astype(np.int32), block)
        del pairs
        self._large = 64 * block  # more candidate rows than this: a mask over all names instead of np.unique
        self._vocab = SortedStrings(tok.vocab)

        # each name's words, names in rank order: name r's words are _name_words[_name_offs[r]:_name_offs[r + 1]]
        ntok = np.bincount(tok.owner, minlength=n).astype(np.int32)
        self._name_offs = np.zeros(n + 1, dtype=np.int32)
        np.cumsum(ntok[by_rank], out=self._name_offs[1:])
        first = np.cumsum(ntok, dtype=np.int32) - ntok  # each name's first word occurrence, in name order
        within = np.arange(len(tok.owner), dtype=np.int32)
        within -= first[tok.owner]
        dest = self._name_offs[rank[tok.owner]]
        dest += within
        del within
        self._name_words = np.empty(len(tok.word), dtype=np.int32)
        self._name_words[dest] = tok.word
        del dest, rank

        # tier 4
        self._typos = _Typos(tok.vocab)
        self.build_seconds = time.perf_counter() - started

    def __len__(self) -> int:
        return len(self._pos)

    @property
    def nbytes(self) -> int:
        """Memory held by the index (not counting `ids`, which the snapshot shares)."""
        arrays = (self._pos, self._length, self._key_len, self._core_len, self._word_offs, self._name_offs, self._name_words)
        return (sum(a.nbytes for a in arrays) + self._keys.nbytes + self._key_rank.nbytes + self._pairs.nbytes
                + self._vocab.nbytes + self._typos.nbytes)

    # ------------------------------------------------------------------ query

    def search(self, query: str, limit: int = 10) -> list[tuple[str, float]]:
        """(account id, score) best first; see the module docstring for the order."""
        return [(str(self.ids[pos]), score) for pos, score in self.search_positions(query, limit)]

    def search_positions(self, query: str, limit: int = 10) -> list[tuple[int, float]]:
        """(position of the name in `ids`, score) best first: `search` without looking ids up again."""
        terms = words(query)
        if not terms or limit <= 0:
            return []
        hits: list[tuple[int, float]] = []
        seen: set[int] = set()

        def take(ranks: list[int], tiers) -> None:
            for r, t in zip(ranks, tiers):
                if len(hits) == limit:
                    return
                if r not in seen:
                    seen.add(r)
                    hits.append((r, t))

        q = " ".join(terms)
        lo, hi = self._keys.prefix_range(q)
        if hi > lo:
            exact = lo + np.flatnonzero((self._core_len[lo:hi] == len(q)) | (self._key_len[lo:hi] == len(q)))
            take(np.sort(self._key_rank.values[exact])[:limit].tolist(), repeat(EXACT))
            if len(hits) < limit:
                take(self._key_rank.smallest(lo, hi, limit + len(hits)).tolist(), repeat(NAME_PREFIX))
        if len(hits) < limit:
            spans = [self._pair_range(t) for t in terms]
            if all(whi > wlo for wlo, whi, _, _ in spans):  # else no name has a word starting with each term
                take(self._word_prefix(terms, spans, limit + len(hits)).tolist(), repeat(WORD_PREFIX))
            if len(hits) < limit:
                ranks, costs = self._typo(terms, spans, limit + len(hits))
                take(ranks, [TYPO - TYPO_EDIT * (c // 2 - 1) - TYPO_START * (c % 2) for c in costs])
        return [(int(self._pos[r]), round(t - float(self._length[r]) / 12, 2)) for r, t in hits]

    def _pair_range(self, prefix: str) -> tuple[int, int, int, int]:
        """Words [wlo, whi) starting with `prefix`, and their pair rows [lo, hi)."""
        wlo, whi = self._vocab.prefix_range(prefix)
        return wlo, whi, int(self._word_offs[wlo]), int(self._word_offs[whi])

    def _word_prefix(self, terms: list[str], spans, k: int) -> np.ndarray:
        """The k best ranks of names in which every term starts a word (`spans`: each term's `_pair_range`)."""
        if len(terms) == 1:
            _, _, lo, hi = spans[0]
            return self._pairs.smallest(lo, hi, k)
        return self._every_term(terms, spans, k, fuzzy=False)[0]

    def _typo(self, terms: list[str], spans, k: int) -> tuple[list[int], list[int]]:
        """The k best (ranks, costs) of names matching every term within its edits, with at least one edit.

        A word's *cost* for a term is 2 * edits, plus 1 when only its start is
        that close (`_Typos.near`); a name's is its best word's, and the order
        is (cost, rank).
        """
        if len(terms) > 1:
            ranks, costs = self._every_term(terms, spans, k, fuzzy=True)
            return ranks.tolist(), costs.tolist()
        word_ids, costs = self._typos.near(terms[0], max_edits(terms[0]))
        starts = self._word_offs[word_ids]
        counts = np.minimum(self._word_offs[word_ids + 1] - starts, k)  # each word's first k names: its best ranks
        ranks = self._pairs.values[np.repeat(starts - (np.cumsum(counts) - counts), counts) + np.arange(counts.sum())]
        by_cost = np.repeat(costs.astype(np.int64) << 32, counts)  # (cost, rank) as one number
        by_cost |= ranks
        by_cost.sort()
        best: dict[int, int] = {}  # a name reached at two costs keeps the first, the lower
        for x in by_cost.tolist():
            best.setdefault(x & 0xFFFFFFFF, x >> 32)
            if len(best) == k:
                break
        return list(best), list(best.values())

    def _rows_of(self, word_ids: np.ndarray, most: int | None = None) -> np.ndarray:
        """Pair rows of the given words (only each word's first `most`, its best ranks, when given)."""
        starts = self._word_offs[word_ids]
        counts = self._word_offs[word_ids + 1] - starts
        if most is not None:
            counts = np.minimum(counts, most)
        total = int(counts.sum())
        if not total:
            return np.zeros(0, dtype=np.int64)
        return np.repeat(starts - (np.cumsum(counts) - counts), counts) + np.arange(total)

    def _every_term(self, terms: list[str], spans, k: int, fuzzy: bool) -> tuple[np.ndarray, np.ndarray]:
        """The k best (ranks, costs) of names in which each term starts a word, within its edits when `fuzzy`.

        Candidates are the names of the term with the fewest; each candidate's
        words (`_name_words`) then give its distance to every term at once.
        With `fuzzy`, names needing no edit are left out (the prefix tiers have them).
        """
        nwords = len(self._word_offs) - 1
        costs, allowed, sizes = [], [], []
        for t, (wlo, whi, lo, hi) in zip(terms, spans, strict=True):
            cost = np.full(nwords, 127, dtype=np.int8)  # each word's cost for this term (see _typo)
            edits = max_edits(t) if fuzzy else 0
            if edits:
                word_ids, word_costs = self._typos.near(t, edits)
                cost[word_ids] = word_costs
            cost[wlo:whi] = 0
            costs.append(cost)
            allowed.append(2 * edits + 1 if edits else 0)
            near = np.flatnonzero(cost <= allowed[-1]) if edits else None
            size = hi - lo if near is None else int((self._word_offs[near + 1] - self._word_offs[near]).sum())
            sizes.append((size, wlo, whi, lo, hi, near))
        size, wlo, whi, lo, hi, near = min(sizes, key=lambda x: x[0])
        if size == 0:
            return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int64)
        if near is None and size > self._large:  # a common prefix: its best names may be enough
            found = self._check(self._pairs.smallest(lo, hi, self._pairs.most), costs, allowed, fuzzy)
            if len(found[0]) >= k:
                return tuple(a[:k] for a in found)
        if size <= self._large:
            rows = np.arange(lo, hi) if near is None else self._rows_of(near)
            cands = distinct(self._pairs.values[rows])
        else:
            mask = np.zeros(len(self._pos), dtype=bool)
            mask[self._pairs.values[lo:hi] if near is None else self._pairs.values[self._rows_of(near)]] = True
            cands = np.flatnonzero(mask).astype(np.int32)
        return tuple(a[:k] for a in self._check(cands, costs, allowed, fuzzy))

    def _check(self, cands: np.ndarray, costs, allowed, fuzzy: bool) -> tuple[np.ndarray, np.ndarray]:
        """The candidates (sorted ranks) within every term's cost, as (ranks, costs) in (cost, rank) order: a name's
        cost is 2 * its edits over all terms, plus 1 when any term matched only a word's start."""
        if not len(cands):
            return cands, np.zeros(0, dtype=np.int64)
        starts = self._name_offs[cands]
        counts = self._name_offs[cands + 1] - starts
        seg = np.cumsum(counts) - counts
        words = self._name_words[np.repeat(starts - seg, counts) + np.arange(int(counts.sum()))]
        edits = np.zeros(len(cands), dtype=np.int64)
        start_only = np.zeros(len(cands), dtype=bool)
        ok = np.ones(len(cands), dtype=bool)
        for cost, most in zip(costs, allowed, strict=True):
            best = np.minimum.reduceat(cost[words], seg)  # the name's best word for this term
            ok &= best <= most
            edits += best // 2
            start_only |= best % 2 == 1
        if fuzzy:
            ok &= edits > 0
        cands, cost = cands[ok], 2 * edits[ok] + start_only[ok]
        order = np.lexsort((cands, cost))
        return cands[order], cost[order]


_GRAM_CHARS = 37  # 0 pads the start of a word; 1-36 are 0-9a-z
_GRAM_CODE = np.zeros(256, dtype=np.int32)
_GRAM_CODE[np.frombuffer(b"0123456789abcdefghijklmnopqrstuvwxyz", np.uint8)] = np.arange(1, 37)
_GRAM_CODES = _GRAM_CODE.tolist()  # the same for one typed word, in Python (a numpy call per query costs more)


def _gram_matrix(codes: np.ndarray) -> np.ndarray:
    """Trigram codes of each row of character codes, the start padded with two blanks."""
    padded = np.concatenate([np.zeros((len(codes), 2), np.int32), codes], axis=1)
    return padded[:, :-2] * _GRAM_CHARS**2 + padded[:, 1:-1] * _GRAM_CHARS + padded[:, 2:]


def _grams(typed: bytes) -> list[int]:
    """The distinct trigram codes of one word (`_gram_matrix` of one row), sorted."""
    codes = [0, 0, *(_GRAM_CODES[c] for c in typed)]
    return sorted({(a * _GRAM_CHARS + b) * _GRAM_CHARS + c for a, b, c in zip(codes, codes[1:], codes[2:])})


class _Typos:
    """Distinct words by trigram, for the words within a few edits of a typed prefix."""

    WIDTH = 32  # letters of a word that count

    def __init__(self, vocab: pa.StringArray):
        lengths = pc.utf8_length(vocab).to_numpy() if len(vocab) else np.zeros(0, np.int64)
        self.width = max(1, min(self.WIDTH, int(lengths.max()) if len(lengths) else 1))
        self.words = fixed_width(vocab, self.width)
        self.length = lengths.astype(np.int32)
        self.stored = np.minimum(self.length, self.width)  # a word's length as stored (at most `width` letters)
        letters = self.words.view(np.uint8).reshape(len(self.words), self.width)
        grams = _gram_matrix(_GRAM_CODE[letters])
        grams[np.arange(self.width) >= self.length[:, None]] = -1
        grams.sort(axis=1)
        grams[:, 1:][grams[:, 1:] == grams[:, :-1]] = -1  # each gram once per word
        word = np.broadcast_to(np.arange(len(vocab), dtype=np.int32)[:, None], grams.shape)
        valid = grams >= 0
        codes, owners = grams[valid], word[valid]
        order = np.argsort(codes, kind="stable")
        self.postings = owners[order]
        self.offsets = np.zeros(_GRAM_CHARS**3 + 1, dtype=np.int64)
        np.cumsum(np.bincount(codes, minlength=_GRAM_CHARS**3), out=self.offsets[1:])
        self._first = np.arange(self.width + 1)[:, None, None] > np.arange(self.width)  # [size]: a start's letters
        self._size = np.arange(self.width + 1)[:, None]  # [size]: that size, a column to compare with `stored`

    @property
    def nbytes(self) -> int:
        return self.words.nbytes + self.length.nbytes + self.stored.nbytes + self.postings.nbytes + self.offsets.nbytes

    def near(self, term: str, edits: int) -> tuple[np.ndarray, np.ndarray]:
        """(word ids, costs) of the words whose start is d = 1..edits edits (OSA) from `term`, ids ascending:
        cost 2 * d, plus 1 when the whole word is further than its start."""
        if edits <= 0 or not len(self.words):
            return np.zeros(0, np.int32), np.zeros(0, np.int32)
        from rapidfuzz import process
        from rapidfuzz.distance import OSA

        typed = term.encode("ascii")[: self.width]
        grams = _grams(typed)
        offsets = self.offsets
        counts = np.bincount(np.concatenate([self.postings[offsets[g] : offsets[g + 1]] for g in grams]),
                             minlength=len(self.words))
        # an edit changes at most 3 trigrams, a swap 4: a word sharing fewer cannot be that close
        least = max(1, len(grams) - 4 * edits)
        if 2 <= len(typed) and len(grams) < 5:  # ... except that swapping the first two letters of 4 may leave none:
            # those words by prefix (from 5 trigrams, the ones after the first 4 are shared and enough)
            swapped = typed[1:2] + typed[:1] + typed[2:]
            lo, hi = np.searchsorted(self.words, [swapped, swapped[:-1] + bytes([swapped[-1] + 1])])
            counts[lo:hi] = least
        cand = np.flatnonzero(counts >= least)
        if len(term) > len(typed):  # (otherwise a word too short has no start of a size that counts, see below)
            cand = cand[self.length[cand] >= len(term) - edits]
        # A letter more or less at the end of a start changes its distance by at most 1, so a start `edits` away
        # leaves the start as long as the term at most 2 * edits away: one distance per candidate drops most of them
        # (those that share only the term's first letters) before every start of every candidate is compared.
        if len(cand):
            cand = cand[process.cdist([typed], self.words[cand].astype(f"S{len(typed)}"), scorer=OSA.distance,
                                      score_cutoff=2 * edits, dtype=np.int32)[0] <= 2 * edits]
        if not len(cand):
            return cand.astype(np.int32), np.zeros(0, np.int32)
        # The distance to each start of the lengths that count, all in one cdist call (a call costs ~10 us before any
        # work): starts[size - low, i] is candidate i's start of that size.  A start longer than the word is the word
        # itself, so it is not sent again (it stays over the cutoff); a word longer than every start is over the
        # cutoff whole (OSA >= the difference in length).
        low, high = max(1, len(typed) - edits), min(self.width, len(typed) + edits)
        stored = self.stored[cand]
        sent = self._size[low : high + 1] <= stored
        starts = (self.words[cand].view(np.uint8).reshape(len(cand), self.width) * self._first[low : high + 1])
        d = np.full(sent.shape, edits + 1, dtype=np.int32)
        d[sent] = process.cdist([typed], starts.view(f"S{self.width}")[sent].ravel(), scorer=OSA.distance,
                                score_cutoff=edits, dtype=np.int32)[0]  # over the cutoff: cutoff + 1
        # 2 * d, plus 1 for a start shorter than the word: the least is 2 * the best start's d, plus 1 unless the
        # whole word is as close
        d *= 2
        d += self._size[low : high + 1] < stored
        cost = d.min(axis=0)
        keep = (cost >= 2) & (cost <= 2 * edits + 1)  # 0 and 1: a start is the term (the prefix tiers have it)
        return cand[keep].astype(np.int32), cost[keep]


__all__ = ["NameIndex", "fold", "max_edits", "words"]
