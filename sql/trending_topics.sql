-- trending_topics: topics gaining ground.  Compares the most recent window of page dates
-- with the window before it; trending_topics_over(days, min_papers := 10) takes any window
-- length and minimum support, and the view uses 7 days and 10 papers.
-- Grain: topic with at least min_papers distinct papers in the recent window.
--   window_end     the latest page date in the warehouse
--   n_recent       distinct papers with the topic listed in (window_end - days, window_end]
--   n_previous     the same for the window before
--   share_recent,
--   share_previous the topic's share of all distinct papers listed in each window
--   growth         how much the topic's share grew: share_recent / share_previous - 1 (of
--                  the unrounded shares), the measure growth_lower bounds; null when the
--                  topic had no paper in the previous window or that window lies (partly)
--                  before the first page date: too little history.  Not the papers' count
--                  change, (n_recent - n_previous) / n_previous: a window with fewer papers on
--                  the page (short captures) lowers every topic's count, not its share
--   growth_lower   how much the topic's share grew, at least, with 95% confidence: the
--                  one-sided lower bound of share_recent / share_previous, minus 1 (log
--                  relative risk, Wald interval, 0.5 added to every count so an empty
--                  previous window gives a finite bound); null when history is too short
--   history_days   calendar days of history the two windows cover, at most 2 x days (fewer:
--                  the previous window starts before the first page date; days without a
--                  page inside the span still count)
-- Rank rows by growth_lower (order by growth_lower desc nulls last, n_recent desc, topic):
-- a topic ranks high only when its rise is large AND carried by enough papers, so 3 papers
-- after 1 do not outrank 40 after 20.
-- Example: select * from trending_topics_over(30, min_papers := 20)
--          order by growth_lower desc nulls last, n_recent desc, topic limit 10;
create or replace macro trending_topics_over(days, min_papers := 10) as table
-- stg_listings is read twice (bounds, windowed), so it is read where used, not imported:
-- DuckDB materializes a CTE a macro reads twice, and a stored macro does not keep a NOT
-- MATERIALIZED hint.
with paper_topics as (
    select paper_id, topic
    from internal.stg_paper_topics
),

bounds as (
    select max(listed_on) as window_end, min(listed_on) as first_day
    from internal.stg_listings
),

windowed as (
    select
        l.paper_id,
        l.listed_on > b.window_end - days::integer as is_recent
    from internal.stg_listings as l
    cross join bounds as b
    where l.listed_on > b.window_end - 2 * days::integer
),

totals as (
    select
        count(distinct paper_id) filter (where is_recent) as papers_recent,
        count(distinct paper_id) filter (where not is_recent) as papers_previous
    from windowed
),

counts as (
    select
        t.topic,
        count(distinct w.paper_id) filter (where w.is_recent) as n_recent,
        count(distinct w.paper_id) filter (where not w.is_recent) as n_previous
    from windowed as w
    inner join paper_topics as t using (paper_id)
    group by t.topic
),

rated as (
    select
        c.topic,
        b.window_end,
        c.n_recent,
        c.n_previous,
        round(c.n_recent / t.papers_recent, 4) as share_recent,
        round(c.n_previous / nullif(t.papers_previous, 0), 4) as share_previous,
        b.first_day > b.window_end - 2 * days::integer + 1 as too_short,
        (c.n_recent / t.papers_recent) / nullif(c.n_previous / t.papers_previous, 0)
            as share_ratio,
        ln((c.n_recent + 0.5) / (t.papers_recent + 0.5))
        - ln((c.n_previous + 0.5) / (t.papers_previous + 0.5)) as log_ratio,
        sqrt(
            1 / (c.n_recent + 0.5) - 1 / (t.papers_recent + 0.5)
            + 1 / (c.n_previous + 0.5) - 1 / (t.papers_previous + 0.5)
        ) as log_ratio_se,
        least(b.window_end - b.first_day + 1, 2 * days::integer) as history_days
    from counts as c
    cross join bounds as b
    cross join totals as t
    where c.n_recent >= min_papers
),

final as (
    select
        topic,
        window_end,
        n_recent,
        n_previous,
        share_recent,
        share_previous,
        case
            when too_short or n_previous = 0 then null
            else round(share_ratio - 1, 4)
        end as growth,
        case
            when not too_short then round(exp(log_ratio - 1.645 * log_ratio_se) - 1, 4)
        end as growth_lower,
        history_days
    from rated
)

select * from final;

create or replace view trending_topics as
select * from trending_topics_over(7)
