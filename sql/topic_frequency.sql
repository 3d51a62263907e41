-- topic_frequency: how many distinct listed papers carried each topic per page date.
-- Grain: topic x listed_on (only days where the topic occurs).
--   n_papers   distinct papers with the topic listed that day (a paper in two dumps
--              of the same day counts once)
-- Summarized at ingest (lake table topic_daily; retopic rewrites it), so the dashboard and
-- this view never join every listing with every paper's topics.
-- Example: select topic, sum(n_papers) from topic_frequency group by 1 order by 2 desc, 1;
create or replace view topic_frequency as
with topic_daily as (
    select topic, listed_on, n_papers::bigint as n_papers
    from internal.stg_topic_daily
)

select * from topic_daily
