import { useEffect, useId, useMemo, useRef, useState, type KeyboardEvent, type ReactNode } from "react";
import { useLazyQuery } from "@apollo/client";
import { Search } from "lucide-react";
import { useNavigate } from "react-router";
import { SearchCustomersDocument, type SearchCustomersQuery } from "../generated/graphql";
import { HEALTH_CATEGORY, formatScore } from "../lib/format";
import { describeError } from "../lib/errors";
import { ToneBadge } from "./ToneBadge";

export const SEARCH_DEBOUNCE_MS = 150;
export const MIN_QUERY = 2;

type Hit = SearchCustomersQuery["searchCustomers"][number];

/**
 * Spans of `text` to highlight for `query`: each query word found as a substring, else its
 * longest prefix found at the start of a word (typo-tolerant hits still show what matched).
 */
export function highlightRanges(text: string, query: string): [number, number][] {
  const lower = text.toLowerCase();
  const ranges: [number, number][] = [];
  for (const word of query.toLowerCase().split(/\s+/).filter(Boolean)) {
    const at = lower.indexOf(word);
    if (at >= 0) {
      ranges.push([at, at + word.length]);
      continue;
    }
    for (let len = word.length - 1; len >= 2; len--) {
      const prefix = word.slice(0, len);
      const m = new RegExp(`(^|[^a-z0-9])${prefix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`).exec(lower);
      if (m) {
        const start = m.index + m[1]!.length;
        ranges.push([start, start + len]);
        break;
      }
    }
  }
  ranges.sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const r of ranges) {
    const last = merged[merged.length - 1];
    if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
    else merged.push([r[0], r[1]]);
  }
  return merged;
}

export function Highlight({ text, query }: { text: string; query: string }) {
  const parts: ReactNode[] = [];
  let pos = 0;
  for (const [s, e] of highlightRanges(text, query)) {
    if (s > pos) parts.push(text.slice(pos, s));
    parts.push(<mark key={s}>{text.slice(s, e)}</mark>);
    pos = e;
  }
  if (pos < text.length) parts.push(text.slice(pos));
  return <>{parts}</>;
}

function useDebounced<T>(value: T, ms: number): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setV(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return v;
}

/** Customer search with autocomplete (ARIA combobox): debounced, arrows to move, Enter to open, Escape to close. */
export function SearchBox({ autoFocus = false, onPicked }: { autoFocus?: boolean; onPicked?: () => void }) {
  const id = useId();
  const listId = `${id}-list`;
  const navigate = useNavigate();
  const input = useRef<HTMLInputElement>(null);
  const [text, setText] = useState("");
  const [open, setOpen] = useState(false);
  const query = useDebounced(text.trim(), SEARCH_DEBOUNCE_MS);
  const [run, { data, loading, error, variables }] = useLazyQuery(SearchCustomersDocument, { fetchPolicy: "cache-first" });

  useEffect(() => {
    if (query.length >= MIN_QUERY) void run({ variables: { query, limit: 8 } });
  }, [query, run]);

  // "/" anywhere (outside a field) jumps to the search box.
  useEffect(() => {
    const onKey = (e: globalThis.KeyboardEvent) => {
      const t = e.target as HTMLElement | null;
      if (e.key === "/" && !e.ctrlKey && !e.metaKey && !(t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName)))) {
        e.preventDefault();
        input.current?.focus();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  const current = text.trim().length >= MIN_QUERY && variables?.query === query && query === text.trim();
  // While a newer query is on its way the previous hits stay up (no flicker); Enter waits for the fresh ones.
  const hits: Hit[] = useMemo(() => (text.trim().length >= MIN_QUERY && data ? data.searchCustomers : []), [text, data]);
  const [pendingEnter, setPendingEnter] = useState(false);
  // The highlighted option belongs to one list of hits: a new list starts at its first hit (no effect, no flash).
  const [selection, setSelection] = useState<{ hits: Hit[]; index: number }>({ hits: [], index: -1 });
  const active = selection.hits === hits ? selection.index : hits.length ? 0 : -1;
  const setActive = (next: number | ((cur: number) => number)) => setSelection({ hits, index: typeof next === "function" ? next(active) : next });

  const pick = (hit: Hit) => {
    setOpen(false);
    setText("");
    setPendingEnter(false);
    onPicked?.();
    navigate(`/customers/${encodeURIComponent(hit.customer.id)}`);
  };

  useEffect(() => {
    if (pendingEnter && current && !loading) {
      setPendingEnter(false);
      if (hits[0]) pick(hits[0]);
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [pendingEnter, current, loading, hits]);

  const onKeyDown = (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.key === "ArrowDown") {
      e.preventDefault();
      setOpen(true);
      if (hits.length) setActive((a) => (a + 1) % hits.length);
    } else if (e.key === "ArrowUp") {
      e.preventDefault();
      if (hits.length) setActive((a) => (a <= 0 ? hits.length - 1 : a - 1));
    } else if (e.key === "Enter") {
      if (text.trim().length < MIN_QUERY) return;
      e.preventDefault();
      const hit = hits[active] ?? hits[0];
      if (current && !loading) {
        if (hit) pick(hit);
      } else setPendingEnter(true);
    } else if (e.key === "Escape") {
      if (open) setOpen(false);
      else setText("");
    } else if (e.key === "Home" && open && hits.length) {
      setActive(0);
    } else if (e.key === "End" && open && hits.length) {
      setActive(hits.length - 1);
    }
  };

  const typed = text.trim();
  const showList = open && typed.length >= MIN_QUERY;
  const waiting = typed.length >= MIN_QUERY && (!current || loading) && !error;
  const problem = error && current ? describeError(error) : null;

  return (
    <div className="search" role="search">
      <label htmlFor={`${id}-input`} className="sr-only">
        Search customers
      </label>
      <Search className="search-icon" size={16} aria-hidden="true" />
      <input
        id={`${id}-input`}
        ref={input}
        type="text"
        role="combobox"
        aria-expanded={showList}
        aria-controls={listId}
        aria-autocomplete="list"
        aria-activedescendant={showList && active >= 0 && hits[active] ? `${id}-opt-${active}` : undefined}
        autoComplete="off"
        spellCheck={false}
        placeholder="Search customers…  ( / )"
        value={text}
        autoFocus={autoFocus}
        onChange={(e) => {
          setText(e.target.value);
          setOpen(true);
        }}
        onFocus={() => setOpen(true)}
        onBlur={() => setTimeout(() => setOpen(false), 150)}
        onKeyDown={onKeyDown}
      />
      {showList ? (
        <div className="search-popup">
          <ul id={listId} role="listbox" aria-label="Matching customers" className="search-list">
            {hits.map((hit, i) => {
              const cat = hit.customer.healthCategory ? HEALTH_CATEGORY[hit.customer.healthCategory] : null;
              return (
                <li
                  key={hit.customer.id}
                  id={`${id}-opt-${i}`}
                  role="option"
                  aria-selected={i === active}
                  className={`search-hit${i === active ? " active" : ""}`}
                  onMouseDown={(e) => e.preventDefault()}
                  onMouseEnter={() => setActive(i)}
                  onClick={() => pick(hit)}
                >
                  <span className="hit-name">
                    <Highlight text={hit.customer.name ?? hit.customer.id} query={typed} />
                  </span>
                  <span className="hit-meta">
                    <span className="hit-region">{[hit.customer.region, hit.customer.country].filter(Boolean).join(" · ") || "no region"}</span>
                    {cat ? <ToneBadge tone={cat.tone} label={`${cat.label} ${formatScore(hit.customer.healthScore)}`} /> : <ToneBadge tone="neutral" label="No health score" />}
                  </span>
                </li>
              );
            })}
          </ul>
          <div className="search-status" role="status" aria-live="polite">
            {problem ? `${problem.title}: ${problem.detail}` : waiting ? "Searching…" : hits.length ? `${hits.length} match${hits.length === 1 ? "" : "es"} — Enter opens the highlighted one` : "No customer matches"}
          </div>
        </div>
      ) : null}
    </div>
  );
}
