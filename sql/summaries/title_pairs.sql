-- Summary query (run at ingest, not a view): near-duplicate titles among the papers a run
-- added.  new_papers: the run's new papers; every_paper: the lake's papers table, the
-- run's own included (the run's transaction names it).
-- Blocking: a title's keys are its 5 rarest words or pairs of adjacent words (words: runs of
-- letters/digits) and the first and last 12 letters of its key, each only if at most 50
-- titles have it; a pair is compared when the two titles share a key.  A typo or a LaTeX
-- leftover changes at most 3 of a title's words and word pairs, so two near-copies share
-- their next-rarest ones (or an end, after a new subtitle); the work is the number of
-- titles times the bounded size of their keys' blocks: near-linear.
-- A pair is kept at Jaro-Winkler >= 0.9 of the title keys, unless it is two versions, sizes
-- or variants of one model: titles whose numbers differ (Qwen2.5 / Qwen3, 7B / 13B,
-- Keye-VL / Keye-VL 1.5) or whose name-shaped leading words differ by more than two edits
-- (Qwen3 / Qwen3-Omni, Paper2Code / Paper2Video).
with every as (
    select paper_id, title, title_key from every_paper
),

new as (
    select paper_id from new_papers
),

title_words as (
    select
        paper_id,
        list_filter(
            regexp_split_to_array(lower(title), '[^\p{L}\p{N}]+'), lambda w: w <> ''
        ) as ws
    from every
),

words as (
    -- each title's distinct words and pairs of adjacent words
    select distinct paper_id, word
    from (
        select paper_id, unnest(ws) as word from title_words
        union all
        select
            paper_id,
            unnest(list_transform(range(1, len(ws)), lambda i: ws[i] || ' ' || ws[i + 1]))
        from title_words
    )
),

ends as (
    select paper_id, '^' || left(title_key, 12) as word from every
    union
    select paper_id, right(title_key, 12) || '$' from every
),

word_counts as (
    select word, count(*) as n_titles
    from (select * from words union all select * from ends)
    where word <> ''
    group by word
    having count(*) <= 50
),

keys as (
    select paper_id, word
    from (
        select
            w.paper_id,
            w.word,
            row_number() over (partition by w.paper_id order by c.n_titles, w.word) as rank
        from words as w
        inner join word_counts as c using (word)
    )
    where rank <= 5
    union
    select paper_id, word
    from ends
    inner join word_counts using (word)
),

candidates as (
    -- a new title and any title with a key in common
    select n.paper_id as a, other.paper_id as b
    from new as n
    inner join keys as k using (paper_id)
    inner join keys as other on other.word = k.word and other.paper_id <> n.paper_id
),

pairs as (
    select
        least(c.a, c.b) as paper_id_a,
        greatest(c.a, c.b) as paper_id_b
    from candidates as c
    group by 1, 2
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
    inner join every as a on a.paper_id = p.paper_id_a
    inner join every as b on b.paper_id = p.paper_id_b
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
