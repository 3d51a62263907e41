-- possible_duplicates: pairs of distinct papers whose titles are near-identical (LaTeX
-- leftovers, a changed subtitle, a typo), for review.  Grain: unordered pair of papers.
--   similarity    Jaro-Winkler similarity of the normalized titles (1 = identical)
-- Pairs are compared within blocks of titles sharing their first or last 12 letters, so
-- the view stays fast on a large warehouse.
-- Example: select * from possible_duplicates order by similarity desc;
create or replace view possible_duplicates as
with keyed as (
    select paper_id, title, title_key, left(title_key, 12) as head, right(title_key, 12) as tail
    from stg_papers
    where length(title_key) >= 12
),

candidates as (
    select a.paper_id as paper_id_a, b.paper_id as paper_id_b
    from keyed as a
    inner join keyed as b on a.head = b.head and a.paper_id < b.paper_id
    union
    select a.paper_id, b.paper_id
    from keyed as a
    inner join keyed as b on a.tail = b.tail and a.paper_id < b.paper_id
),

final as (
    select
        c.paper_id_a,
        a.title as title_a,
        c.paper_id_b,
        b.title as title_b,
        round(jaro_winkler_similarity(a.title_key, b.title_key), 4) as similarity
    from candidates as c
    inner join keyed as a on a.paper_id = c.paper_id_a
    inner join keyed as b on b.paper_id = c.paper_id_b
)

select * from final
where similarity >= 0.9
order by similarity desc, title_a
