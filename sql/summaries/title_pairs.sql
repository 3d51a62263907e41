-- Summary query (run at ingest, not a view): near-duplicate titles among the papers a run
-- added.  new_papers: the run's new papers; new_words: the title_words rows the run adds
-- (title_words.sql); stored_words: the lake's title_words before the run; every_paper: the
-- lake's papers table, the run's own included (the run's transaction names them).
-- Blocking: a title's keys are its 5 rarest words or pairs of adjacent words and its two
-- ends (title_words.sql), each only if at most $max_block titles have it; a pair is compared
-- when the two titles share a key.  A typo or a LaTeX leftover changes at most 3 of a
-- title's words and word pairs, so two near-copies share their next-rarest ones (or an end,
-- after a new subtitle); the work is the number of new titles times the bounded size of
-- their keys' blocks.  Only the words of the new titles and of the titles sharing one are
-- counted: the run reads title_words once and no other title.
-- A pair is kept at Jaro-Winkler >= 0.9 of the title keys, unless it is two versions, sizes
-- or variants of one model: titles whose numbers differ (Qwen2.5 / Qwen3, 7B / 13B,
-- Keye-VL / Keye-VL 1.5) or whose name-shaped leading words differ by more than two edits
-- (Qwen3 / Qwen3-Omni, Paper2Code / Paper2Video).
with every_word as materialized (
    select word, paper_id, is_end from stored_words
    union all
    select word, paper_id, is_end from new_words
),

new_title_words as (
    select word, paper_id, is_end from every_word
    where paper_id in (select paper_id from new_papers)
),

hits as (
    -- every title having a word of a new title
    select word, paper_id from every_word
    where word in (select word from new_title_words)
),

hit_counts as (
    select word, count(*) as n_titles from hits group by word having count(*) <= $max_block
),

new_keys as (
    select paper_id, word
    from (
        select
            w.paper_id,
            w.word,
            w.is_end,
            row_number() over (
                partition by w.paper_id, w.is_end order by c.n_titles, w.word
            ) as rank
        from new_title_words as w
        inner join hit_counts as c using (word)
    )
    where is_end or rank <= 5
),

others as (
    -- the titles sharing a key word of a new title (the new ones among them)
    select distinct paper_id from hits
    where word in (select word from new_keys)
),

other_words as (
    select word, paper_id, is_end from every_word
    where paper_id in (select paper_id from others)
),

other_counts as (
    select word, count(*) as n_titles from every_word
    where word in (select word from other_words)
    group by word
    having count(*) <= $max_block
),

other_keys as (
    select paper_id, word
    from (
        select
            w.paper_id,
            w.word,
            w.is_end,
            row_number() over (
                partition by w.paper_id, w.is_end order by c.n_titles, w.word
            ) as rank
        from other_words as w
        inner join other_counts as c using (word)
    )
    where is_end or rank <= 5
),

pairs as (
    -- a new title and any title with a key in common
    select distinct
        least(n.paper_id, o.paper_id) as paper_id_a,
        greatest(n.paper_id, o.paper_id) as paper_id_b
    from new_keys as n
    inner join other_keys as o on o.word = n.word and o.paper_id <> n.paper_id
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
    inner join every_paper as a on a.paper_id = p.paper_id_a
    inner join every_paper as b on b.paper_id = p.paper_id_b
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
