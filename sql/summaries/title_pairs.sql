-- Summary query (run at ingest, not a view): near-duplicate titles among the papers a run
-- added.  new_papers: the run's new papers; every_paper: the lake's papers table, the
-- run's own included (the run's transaction names it).
-- Titles are compared within blocks sharing their first or last 12 letters of title key
-- (a typo, a LaTeX leftover or a new subtitle leaves one end intact), and a pair is kept
-- at Jaro-Winkler >= 0.9.  Only new x all is compared, so a daily run costs a few blocks.
with new as (
    select paper_id, title_key from new_papers
),

every as (
    select paper_id, title_key from every_paper
),

candidates as (
    select n.paper_id as a, e.paper_id as b, n.title_key as key_a, e.title_key as key_b
    from new as n
    inner join every as e
        on left(n.title_key, 12) = left(e.title_key, 12) and n.paper_id <> e.paper_id
    union
    select n.paper_id, e.paper_id, n.title_key, e.title_key
    from new as n
    inner join every as e
        on right(n.title_key, 12) = right(e.title_key, 12) and n.paper_id <> e.paper_id
),

ordered as (
    select distinct
        least(a, b) as paper_id_a,
        greatest(a, b) as paper_id_b,
        if(a < b, key_a, key_b) as key_a,
        if(a < b, key_b, key_a) as key_b
    from candidates
),

scored as (
    -- The cutoff lets DuckDB stop early on hopeless pairs (they score 0).
    select paper_id_a, paper_id_b, round(jaro_winkler_similarity(key_a, key_b, 0.9), 4) as similarity
    from ordered
)

select * from scored
where similarity >= 0.9
order by paper_id_a, paper_id_b
