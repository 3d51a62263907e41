-- Summary query (run at ingest, not a view): the blocking keys of the titles a run pairs
-- (title_pairs.sql).  new_papers: the run's new papers; new_words: the title_words rows the
-- run adds and has not stored yet (title_words.sql); stored_words: the lake's title_words;
-- every_paper: the lake's papers table, the run's own included (the run's transaction names
-- them).  Words and papers are the integers title_words stores (macros.sql), the rows too.
-- A title's keys are its 5 rarest words or pairs of adjacent words and its two ends
-- (title_words.sql), each only if at most $max_block titles have it.  The rows (paper_id,
-- word, settled, is_end, n_titles): the keys of the new titles (new_ranked) and of every
-- other title sharing a key with one (ranked the same way; in a backfill into an empty lake
-- there is none), the only titles a new one can pair with.  A typo or a LaTeX leftover changes at most 3 of a title's words and word
-- pairs, so two near-copies share their next-rarest ones (or an end, after a new subtitle).
-- Only the words of the new titles and of the titles sharing one are counted: the query
-- reads title_words once (materialized: a daily run pays 35% less CPU than scanning it for
-- each use, a backfill ~110 MB more at its peak) and no title.
-- Equally rare words are ranked by their spelling, not their hash, as when title_words held
-- strings: the hashes rank the words, and a title whose 5th and 6th rarest words are as rare
-- (and shared: a word of one title never pairs) is tied (~19% of titles).  Its rows are every
-- word that may be a key (settled false, with n_titles), and title_pairs.sql, which reads the
-- titles anyway, breaks the tie by the words' spelling.  A new title's candidate keys include
-- its whole tie, so that every title one of its keys may reach is among the others.
with every_word as materialized (
    select word, paper_id, is_end from stored_words
    union all
    select word, paper_id, is_end from new_words
),

new_title_words as (
    select word, paper_id, is_end from every_word
    where paper_id in (select paper_number(paper_id) from new_papers)
),

hits as (
    -- every title having a word of a new title
    select word, paper_id from every_word
    where word in (select word from new_title_words)
),

hit_counts as (
    select word, count(*) as n_titles from hits group by word having count(*) <= $max_block
),

new_ranked as (
    select
        w.paper_id,
        w.word,
        w.is_end,
        c.n_titles,
        row_number() over (partition by w.paper_id, w.is_end order by c.n_titles, w.word) as rank
    from new_title_words as w
    inner join hit_counts as c using (word)
),

new_candidates as (
    -- a new title's keys, whichever way its tie at the 5th rarest word is broken
    select r.word from new_ranked as r
    left join (
        select paper_id, n_titles from new_ranked where not is_end and rank = 5
    ) as fifth using (paper_id)
    where r.is_end or r.rank <= 5 or r.n_titles = fifth.n_titles
),

others as (
    -- the other titles sharing a candidate key of a new title
    select distinct paper_id from hits
    where
        word in (select word from new_candidates)
        and paper_id not in (select paper_number(paper_id) from new_papers)
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

ranked as (
    select paper_id, word, is_end, n_titles, rank from new_ranked
    union all
    select
        w.paper_id,
        w.word,
        w.is_end,
        c.n_titles,
        row_number() over (partition by w.paper_id, w.is_end order by c.n_titles, w.word) as rank
    from other_words as w
    inner join other_counts as c using (word)
),

tied as (
    -- the titles whose 5th and 6th rarest words are as rare, and shared
    select paper_id, n_titles from ranked
    where not is_end and rank in (5, 6)
    group by paper_id, n_titles
    having count(*) = 2 and n_titles >= 2
)

select paper_id, word, true as settled, is_end, n_titles from ranked
where (is_end or rank <= 5) and paper_id not in (select paper_id from tied)
union all
select r.paper_id, r.word, false, r.is_end, r.n_titles from ranked as r
inner join tied as t using (paper_id)
where r.is_end or r.n_titles <= t.n_titles
