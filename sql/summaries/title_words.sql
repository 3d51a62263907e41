-- Summary query (run at ingest, not a view): the blocking words of the titles a run indexes,
-- stored in title_words for title_pairs.sql.  titles_to_index: the papers to index
-- (paper_id, title, title_key).  Stored as integers (macros.sql): a word as word_hash(word), the
-- paper as paper_number(paper_id); the word itself is its spelling (title_keys.sql's ties).
-- A title's words are its distinct runs of letters/digits (lower-cased) and pairs of
-- adjacent ones; its two ends are the first and last 12 letters of its key ('^...', '...$').
-- Only a word at most MAX_BLOCK titles share can block, so a word's first MAX_BLOCK + 1
-- titles are all that is stored (in the order runs stored them, by paper_id within a
-- run; one backfill's order is paper_id's): its stored count is then exact up to
-- MAX_BLOCK and says "more" beyond, and the table stays near-linear in the titles.  This
-- query gives every (word, paper_id, is_end), a title's repeated word more than once;
-- stored_counts.sql counts each word's stored titles and paperlake.summaries.first_titles
-- keeps a word's first titles, each once (one sort in polars: DuckDB's window over the
-- words cost a 10-year backfill ~30% more CPU; its DISTINCT, 0.1 s of a 2 MiB slice's
-- 0.42 s: a 10-year lake's titles indexed again in 3.3-3.4 s of CPU, without it 3.1).
with split as (
    select
        paper_number(paper_id) as paper_id,
        title_key,
        list_filter(
            regexp_split_to_array(lower(title), '[^\p{L}\p{N}]+'), lambda w: w <> ''
        ) as ws
    from titles_to_index
),

words as (
    select paper_id, unnest(ws) as word, false as is_end from split
    union all
    select
        paper_id,
        unnest(list_transform(range(1, len(ws)), lambda i: ws[i] || ' ' || ws[i + 1])),
        false
    from split
    union all
    select paper_id, '^' || left(title_key, 12), true from split
    union all
    select paper_id, right(title_key, 12) || '$', true from split
),

hashed as (
    -- word_hash once per distinct word: md5 for each of a title's words cost a 10-year
    -- backfill's titles (100k, 2.1M words) 1.5 s of CPU, once per word 0.8 s
    select word, word_hash(word) as hash from (select distinct word from words)
)

select h.hash as word, w.paper_id, w.is_end, w.word as spelling
from words as w
inner join hashed as h using (word)
