-- possible_duplicates: pairs of distinct papers whose titles are near-identical (LaTeX
-- leftovers, a changed subtitle, a typo), for review.  Grain: unordered pair of papers.
--   similarity    Jaro-Winkler similarity of the normalized titles (0.9 to 1)
-- Pairs are found at ingest, each new paper against the titles sharing one of its rare
-- words or its first/last 12 letters (sql/summaries/title_pairs.sql).  Versions, sizes and
-- variants of one model (Qwen2.5 / Qwen3, 7B / 13B, Qwen3 / Qwen3-Omni) are different
-- papers and are not reported.
-- Example: select * from possible_duplicates order by similarity desc, title_a;
create or replace view possible_duplicates as
with title_pairs as (
    select paper_id_a, paper_id_b, similarity
    from internal.stg_title_pairs
),

papers as (
    select paper_id, title
    from internal.stg_papers
),

final as (
    select
        t.paper_id_a,
        a.title as title_a,
        t.paper_id_b,
        b.title as title_b,
        t.similarity
    from title_pairs as t
    inner join papers as a on a.paper_id = t.paper_id_a
    inner join papers as b on b.paper_id = t.paper_id_b
)

select * from final
