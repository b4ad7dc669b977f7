"""Account-level evidence and blocking keys: parent hierarchy, emails, phones, domains.

Contact data is the strongest independent evidence that two accounts are one
company, and also the easiest to get wrong: ``info@`` and ``billing@`` are
shared by unrelated customers of one reseller, a gmail address says nothing
about an employer, and an outsourced accounts-payable number appears on
dozens of accounts.  These functions decide, vectorised, which values count.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from etl.linking.config import ContactMethod

_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
# The registrable label: "siemens" in www.siemens.co.uk, mail.siemens.com, siemens.com.br.
_LABEL = r"(?:^|\.)(?P<label>[a-z0-9-]+)\.(?:(?:co|com|org|net|ac|gov|ne|or|edu|gob|gouv|mil)\.)?[a-z]{2,}$"


def _present(values: pd.Series) -> np.ndarray:
    s = pd.Series(values, dtype=object)
    return (s.notna() & (s.astype(str).str.strip() != "")).to_numpy()


def ultimate_parent_keys(account_ids: np.ndarray, parent_ids: np.ndarray, max_depth: int = 64) -> np.ndarray:
    """The top of each account's parent hierarchy, as an id (None outside any hierarchy).

    Follows ParentId upwards by pointer jumping (a few numpy steps even for deep
    trees).  A parent that is not among the accounts is the top itself (its id
    is still a shared key).  A cycle stops at the iteration cap with a member
    of the cycle as top, which still gives the cycle one shared key.
    """
    ids = np.asarray(account_ids, dtype=object)
    parents = np.asarray(parent_ids, dtype=object)
    n = len(ids)
    has_parent = _present(parents) if n else np.zeros(0, dtype=bool)
    parent_idx = np.full(n, -1, dtype=np.int64)
    if has_parent.any():
        parent_idx[has_parent] = pd.Index(ids).get_indexer(parents[has_parent])
    top = np.where(parent_idx >= 0, parent_idx, np.arange(n))
    for _ in range(max_depth):
        nxt = top[top]
        if np.array_equal(nxt, top):
            break
        top = nxt
    top_has_external = has_parent[top] & (parent_idx[top] < 0)
    key = np.where(top_has_external, parents[top], ids[top]).astype(object)
    is_parent = np.zeros(n, dtype=bool)
    is_parent[parent_idx[parent_idx >= 0]] = True
    key[~(has_parent | is_parent)] = None
    return key


def _freemail(domains: pa.Array, cfg: ContactMethod) -> np.ndarray:
    exact = [d.lower() for d in cfg.freemail_domains if not d.endswith(".*")]
    labels = [d[:-2].lower() for d in cfg.freemail_domains if d.endswith(".*")]
    first_label = pc.list_element(pc.split_pattern(domains, ".", max_splits=1), 0)
    hit = pc.or_(pc.is_in(domains, pa.array(exact, pa.string())), pc.is_in(first_label, pa.array(labels, pa.string())))
    return np.asarray(pc.fill_null(hit, False).to_numpy(zero_copy_only=False), dtype=bool)


def email_keys(emails: pd.Series, cfg: ContactMethod) -> tuple[np.ndarray, np.ndarray]:
    """(evidence, domain) per email: the address where it may count as evidence, else None;
    its domain where the domain is not freemail (a blocking key), else None.

    An address is evidence unless its mailbox is generic ("info", "billing",
    also "info.de" or "sales-emea": a first segment of 3+ letters decides) or
    its domain is freemail.  Emails are trimmed and lower-cased here as well, so the
    standalone path and silver agree.
    """
    raw = pd.Series(emails, dtype=object)
    arr = pc.utf8_lower(pc.utf8_trim_whitespace(pa.array(raw.where(raw.notna(), None), pa.string())))
    valid = np.asarray(pc.fill_null(pc.match_substring_regex(arr, _EMAIL), False).to_numpy(zero_copy_only=False), bool)
    parts = pc.split_pattern(arr, "@", max_splits=1)
    local = pc.list_element(parts, 0)
    domain = pc.list_element(pc.if_else(pa.array(valid), parts, pa.nulls(len(arr), parts.type)), 1)
    first_segment = pc.list_element(pc.split_pattern_regex(local, r"[._+\-]", max_splits=1), 0)
    generic_set = pa.array(sorted({g.lower() for g in cfg.generic_mailboxes}), pa.string())
    # The first segment decides only for words of 3+ letters: "ap@" is a mailbox, "ap.smith@" a person.
    segment_set = pa.array(sorted({g.lower() for g in cfg.generic_mailboxes if len(g) >= 3}), pa.string())
    generic = np.asarray(
        pc.fill_null(pc.or_(pc.is_in(local, generic_set), pc.is_in(first_segment, segment_set)), False).to_numpy(
            zero_copy_only=False
        ),
        dtype=bool,
    )
    free = _freemail(domain, cfg)
    values = np.asarray(arr.to_numpy(zero_copy_only=False), dtype=object)
    domains = np.asarray(domain.to_numpy(zero_copy_only=False), dtype=object)
    evidence = np.where(valid & ~generic & ~free, values, None)
    block_domain = np.where(valid & ~free, domains, None)
    return evidence, block_domain


def phone_keys(phones: pd.Series, cfg: ContactMethod) -> np.ndarray:
    """Digits only ("+41 44 123 45 67" -> "41441234567"); too short to identify -> None.

    E.164 numbers from silver and free-typed numbers from a CSV then compare
    equal as long as both carry the country code.
    """
    raw = pd.Series(phones, dtype=object)
    arr = pa.array(raw.where(raw.notna(), None), pa.string())
    digits = pc.replace_substring_regex(arr, r"\D+", "")
    ok = np.asarray(
        pc.fill_null(pc.greater_equal(pc.utf8_length(digits), cfg.min_phone_digits), False).to_numpy(
            zero_copy_only=False
        ),
        dtype=bool,
    )
    values = np.asarray(digits.to_numpy(zero_copy_only=False), dtype=object)
    return np.where(ok, values, None)


def domain_labels(domains_or_urls: pd.Series) -> np.ndarray:
    """The registrable label of a domain or website URL ("siemens" for https://www.siemens.co.uk/de)."""
    raw = pd.Series(domains_or_urls, dtype=object)
    arr = pc.utf8_lower(pc.utf8_trim_whitespace(pa.array(raw.where(raw.notna(), None), pa.string())))
    arr = pc.replace_substring_regex(arr, r"^[a-z][a-z0-9+.\-]*://", "")
    arr = pc.replace_substring_regex(arr, r"^[^@/]*@", "")
    arr = pc.replace_substring_regex(arr, r"[/?#:].*$", "")
    arr = pc.replace_substring_regex(arr, r"\.+$", "")
    label = pc.struct_field(pc.extract_regex(arr, _LABEL), "label")
    return np.asarray(label.to_numpy(zero_copy_only=False), dtype=object)
