-- Summary query (run at ingest, not a view): near-duplicate titles among the papers a run
-- added.  new_papers: some of the run's new papers; title_keys: the blocking keys of the
-- run's new titles and of the titles sharing one (title_keys.sql: integers, macros.sql; a
-- tied title's candidates, which its words' spelling settles here);
-- every_paper: the lake's papers table, the run's own included (the run's transaction names
-- it).  A pair is compared when a new title and another share a key; the work is the number
-- of new titles times the bounded size of their keys' blocks.
-- A pair is kept at Jaro-Winkler >= 0.9 of the title keys, unless it is two versions, sizes
-- or variants of one model: titles whose numbers differ (Qwen2.5 / Qwen3, 7B / 13B,
-- Keye-VL / Keye-VL 1.5) or whose name-shaped leading words differ by more than two edits
-- (Qwen3 / Qwen3-Omni, Paper2Code / Paper2Video).
with keyed_titles as materialized (
    -- the papers table read once, for the titles of the keyed papers only (at most every
    -- paper, however many pairs): joining it for each side of a pair read it whole twice.
    -- A daily run's query on a 10-year lake: 0.10 s of CPU, now 0.06; a 10-year backfill's
    -- (every paper keyed, copied here) 1.0 s, now 1.1 (medians of 7 and 4, interleaved).
    select paper_id, title, title_key from every_paper
    where paper_id in (select paper_hex(paper_id) from title_keys)
),

tied_titles as (
    select paper_id, title, title_key from keyed_titles
    where paper_id in (select paper_hex(paper_id) from title_keys where not settled)
),

spelled as (
    -- the words of the tied titles (title_words.sql), with their spelling
    select distinct paper_id, word, spelling from spelled_tied_titles
),

respelled as (
    select
        k.paper_id,
        k.word,
        k.is_end,
        row_number() over (
            partition by k.paper_id, k.is_end order by k.n_titles, s.spelling
        ) as rank
    from title_keys as k
    inner join spelled as s using (paper_id, word)
    where not k.settled
),

keys as materialized (
    -- every title's keys: a tied title's 5 rarest words by (titles, spelling)
    select paper_id, word from title_keys where settled
    union all
    select paper_id, word from respelled where is_end or rank <= 5
),

new_keys as (
    select paper_id, word from keys
    where paper_id in (select paper_number(paper_id) from new_papers)
),

numbered_pairs as (
    -- a new title and any title with a key in common
    select distinct
        least(n.paper_id, o.paper_id) as a,
        greatest(n.paper_id, o.paper_id) as b
    from new_keys as n
    inner join keys as o on o.word = n.word and o.paper_id <> n.paper_id
),

pairs as (
    -- paper_ids again (their order is their numbers': 16 hex digits each)
    select paper_hex(a) as paper_id_a, paper_hex(b) as paper_id_b from numbered_pairs
),

titled as (
    select
        p.paper_id_a,
        p.paper_id_b,
        a.title_key as key_a,
        b.title_key as key_b,
        a.title as title_a,
        b.title as title_b
    from pairs as p
    inner join keyed_titles as a on a.paper_id = p.paper_id_a
    inner join keyed_titles as b on b.paper_id = p.paper_id_b
),

scored as (
    -- The cutoff lets DuckDB stop early on hopeless pairs (they score 0).
    select *, round(jaro_winkler_similarity(key_a, key_b, 0.9), 4) as similarity
    from titled
),

siblings as (
    select
        paper_id_a,
        paper_id_b,
        similarity,
        list_sort(regexp_extract_all(title_a, '\d+(?:\.\d+)*'))
        <> list_sort(regexp_extract_all(title_b, '\d+(?:\.\d+)*')) as numbers_differ,
        regexp_extract(title_a, '^[^\s:]+') as lead_a,
        regexp_extract(title_b, '^[^\s:]+') as lead_b
    from scored
    where similarity >= 0.9
)

select paper_id_a, paper_id_b, similarity
from siblings
where
    not numbers_differ
    -- name-shaped leading words (inner capital, digit, hyphen; no LaTeX) that differ by
    -- more than a typo's two edits name two different works
    and not (
        regexp_matches(lead_a, '^[^\\{}]*([a-z][A-Z]|[A-Z]{2}|\d|-)[^\\{}]*$')
        and regexp_matches(lead_b, '^[^\\{}]*([a-z][A-Z]|[A-Z]{2}|\d|-)[^\\{}]*$')
        and levenshtein(lower(lead_a), lower(lead_b)) > 2
    )
order by paper_id_a, paper_id_b
