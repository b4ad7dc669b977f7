"""Account names as search keys, for a whole column at once (numpy over the UTF-8 bytes).

A name's words are the runs of ``[0-9a-z]`` in its case- and accent-folded
text (`server.search.words` gives the same words for one string), and its
key is those words joined by one space: "Zürich Versicherung AG" ->
"zurich versicherung ag".  `tokenise` finds every word of every name and
builds every key with array operations on the folded column's bytes, so a
million names take well under a second; only the few names that are not
ASCII go through Python (`fold`, the function a query goes through).

The *core* of a key drops its trailing legal form ("acme telecom gmbh" ->
"acme telecom"; "teritis clinics k k" -> "teritis clinics"), so typing
a company's name without its legal form is an exact match.  The legal
forms are cleanco's term list split into words; a single letter counts
only next to another single letter ("K.K.", "S.A. de C.V."), so "Plan B"
keeps its "b".  The core is never empty.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_WORD_BYTE = np.zeros(256, dtype=bool)
_WORD_BYTE[np.frombuffer(b"0123456789abcdefghijklmnopqrstuvwxyz", np.uint8)] = True
_EXCLUDED_LEGAL = {"unlimited", "private"}  # cleanco terms that are ordinary words in names


@dataclass(frozen=True)
class Tokens:
    """Every name's key and words.  Words are numbered in alphabetical order (``vocab``)."""

    keys: pa.StringArray  # per name: its words joined by one space
    key_len: np.ndarray  # int64, per name
    core_len: np.ndarray  # int64, per name: length of the key without its trailing legal form
    vocab: pa.StringArray  # distinct words, sorted
    word: np.ndarray  # int32, per word occurrence (in name order): its number in vocab
    owner: np.ndarray  # int32, per word occurrence: the name's position


@functools.lru_cache(maxsize=1)
def legal_words() -> frozenset[str]:
    """The words legal forms are made of ("gmbh", "ltd", "co", "kg", "s", "a", ...)."""
    from cleanco.termdata import terms_by_country, terms_by_type

    terms = [t for ts in terms_by_type.values() for t in ts] + [t for ts in terms_by_country.values() for t in ts]
    out = set()
    for t in terms:
        out.update(re.findall(r"[0-9a-z]+", fold(t)))
    return frozenset(out - _EXCLUDED_LEGAL)


def fold(text: str) -> str:
    """Lower-case, accent-free text, so "Zürich" matches "zurich"."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def fold_column(names: pa.Array | pa.ChunkedArray) -> pa.StringArray:
    """Lower-cased, accent-free names; nulls become ""."""
    names = pc.fill_null(names, "")
    if isinstance(names, pa.ChunkedArray):
        names = names.combine_chunks()
    if names.type != pa.string():
        names = names.cast(pa.string())
    folded = pc.utf8_lower(names)
    other = np.flatnonzero(~pc.string_is_ascii(names).to_numpy(zero_copy_only=False))
    if len(other):  # NFKD and dropping the marks: the same function as for a query
        mask = np.zeros(len(names), dtype=bool)
        mask[other] = True
        fixed = pa.array([fold(s) for s in names.take(pa.array(other)).to_pylist()], pa.string())
        folded = pc.replace_with_mask(folded, pa.array(mask), fixed)
    return folded


def _bytes_and_offsets(arr: pa.StringArray) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset : arr.offset + len(arr) + 1].astype(np.int64)
    data = arr.buffers()[2]
    buf = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8)
    return buf, offsets


def _strings(data: np.ndarray, offsets: np.ndarray) -> pa.StringArray:
    """A string array over these bytes and (int32) offsets, without copying them."""
    return pa.StringArray.from_buffers(len(offsets) - 1, pa.py_buffer(offsets.astype(np.int32, copy=False)),
                                       pa.py_buffer(np.ascontiguousarray(data)))


_CHUNK = 1 << 17  # names per pass over the bytes: bounds the byte-level temporaries (a few times the names' bytes)


@dataclass
class _Part:
    """One chunk of names split into words; word-level arrays in name order, owners numbered across chunks."""

    word_bytes: np.ndarray  # uint8: the words' letters, one after another
    lengths: np.ndarray  # int32 per word
    owner: np.ndarray  # int32 per word
    first: np.ndarray  # bool per word: the first of its name
    last: np.ndarray  # bool per word: the last of its name
    end_in_key: np.ndarray  # int32 per word: where it ends within its key
    key_bytes: np.ndarray  # uint8: the keys, one after another
    key_len: np.ndarray  # int64 per name


def _split(folded: pa.StringArray, base: int) -> _Part:
    n = len(folded)
    buf, offs = _bytes_and_offsets(folded)
    buf = buf[offs[0] : offs[-1]]
    offs = offs - offs[0]
    is_word = _WORD_BYTE[buf]
    name_start = np.zeros(len(buf) + 1, dtype=bool)
    name_start[offs[:-1]] = True  # a word never runs on into the next name
    edge = np.empty_like(is_word)  # a word starts here: the byte before is no word byte or another name's
    edge[:1] = True
    np.logical_not(is_word[:-1], out=edge[1:])
    edge |= name_start[:-1]
    edge &= is_word
    starts = np.flatnonzero(edge).astype(np.int32)
    edge[-1:] = True  # a word ends here: the byte after is no word byte or another name's
    np.logical_not(is_word[1:], out=edge[:-1])
    edge |= name_start[1:]
    edge &= is_word
    ends = np.flatnonzero(edge).astype(np.int32) + 1
    del edge, name_start
    lengths = ends - starts
    owner = (np.searchsorted(offs, starts, side="right") - 1).astype(np.int32)
    ntok = np.bincount(owner, minlength=n)

    # keys: each word followed by one space, except a name's last word
    key_len = np.bincount(owner, weights=lengths, minlength=n).astype(np.int64) + np.maximum(ntok - 1, 0)
    key_offs = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(key_len, out=key_offs[1:])
    last = np.ones(len(starts), dtype=bool)
    last[:-1] = owner[1:] != owner[:-1]
    first = np.ones(len(starts), dtype=bool)
    first[1:] = owner[1:] != owner[:-1]
    within_start = np.cumsum(lengths + 1, dtype=np.int32) - (lengths + 1)
    within_start -= np.maximum.accumulate(np.where(first, within_start, 0))
    end_in_key = within_start + lengths
    keep = is_word.copy()
    keep[ends[~last]] = True  # the first byte after a word that another word of the same name follows
    key_bytes = buf[keep]
    key_bytes[key_offs[owner[~last]] + end_in_key[~last]] = 32  # ... is one space
    return _Part(buf[is_word], lengths, owner + np.int32(base), first, last, end_in_key, key_bytes, key_len)


def tokenise(names: pa.Array | pa.ChunkedArray) -> Tokens:
    folded = fold_column(names)
    n = len(folded)
    parts = [_split(folded.slice(i, _CHUNK), i) for i in range(0, n, _CHUNK)] or [_split(folded, 0)]

    def joined(name: str) -> np.ndarray:  # one field of all parts, each part's copy dropped at once
        out = np.concatenate([getattr(p, name) for p in parts])
        for p in parts:
            setattr(p, name, None)
        return out

    key_len = joined("key_len")
    key_offs = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(key_len, out=key_offs[1:])
    keys = _strings(joined("key_bytes"), key_offs)
    del key_offs

    # the distinct words, numbered alphabetically
    lengths = joined("lengths")
    tok_offs = np.zeros(len(lengths) + 1, dtype=np.int32)
    np.cumsum(lengths, out=tok_offs[1:])
    encoded = pc.dictionary_encode(_strings(joined("word_bytes"), tok_offs))
    del tok_offs
    owner, first, last, end_in_key = (joined(f) for f in ("owner", "first", "last", "end_in_key"))
    del parts
    order = pc.sort_indices(encoded.dictionary).to_numpy()
    number = np.empty(len(order), dtype=np.int32)
    number[order] = np.arange(len(order), dtype=np.int32)
    word = number[encoded.indices.to_numpy()] if len(lengths) else np.zeros(0, np.int32)
    vocab = encoded.dictionary.take(pa.array(order))
    del encoded

    # the key's core: without the trailing legal form
    legal = pc.is_in(vocab, value_set=pa.array(sorted(legal_words()), pa.string())).to_numpy(zero_copy_only=False)
    single = (pc.utf8_length(vocab).to_numpy() == 1)[word] if len(lengths) else np.zeros(0, bool)
    beside_single = np.zeros(len(lengths), dtype=bool)
    beside_single[1:] |= single[:-1] & ~first[1:]
    beside_single[:-1] |= single[1:] & ~last[:-1]
    legalish = legal[word] & (~single | beside_single)
    core_len = key_len.copy()
    plain = np.flatnonzero(~legalish)  # the last plain word of a name ends its core
    if len(plain):
        last_plain = plain[np.r_[owner[plain][1:] != owner[plain][:-1], True]]
        core_len[owner[last_plain]] = end_in_key[last_plain]
    return Tokens(keys=keys, key_len=key_len, core_len=core_len, vocab=vocab, word=word.astype(np.int32), owner=owner)
