-- paper_topics: which papers are about what.  Grain: paper x topic (a paper has every topic
-- of paperlake/taxonomy.yaml whose patterns occur in its title or abstract; 0.8% of the 200
-- real days' papers have none).
--   topic                 taxonomy topic name
--   title                 as in the first dump loaded that lists it (loaded, not listed:
--                         a backfill of older dumps after newer ones keeps the newer)
--   first_listed_on,
--   last_listed_on        first and last page date the paper appeared on
--   n_listing_days        distinct page dates listing it
-- Example: select title, first_listed_on from paper_topics where topic = 'world models'
--          order by first_listed_on desc limit 10;
create or replace view paper_topics as
with topics as (
    select paper_id, topic
    from internal.stg_paper_topics
),

papers as (
    select paper_id, title
    from internal.stg_papers
),

listing_stats as (
    select paper_id, first_listed_on, last_listed_on, n_listing_days
    from internal.stg_paper_listing_stats
),

final as (
    select
        p.paper_id,
        t.topic,
        p.title,
        s.first_listed_on,
        s.last_listed_on,
        s.n_listing_days
    from topics as t
    inner join papers as p using (paper_id)
    inner join listing_stats as s using (paper_id)
)

select * from final
