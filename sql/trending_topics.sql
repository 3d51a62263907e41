-- trending_topics: topics gaining ground.  Compares the most recent window of page dates
-- with the window before it; trending_topics_over(days) takes any window length, and the
-- view uses 7 days.  Grain: topic (each topic seen in either window).
--   window_end     the latest page date in the warehouse
--   n_recent       distinct papers with the topic listed in (window_end - days, window_end]
--   n_previous     the same for the window before
--   growth         (n_recent - n_previous) / n_previous; null when the previous window is
--                  empty or lies (partly) before the first page date: too little history
--   history_days   page dates available in both windows together
-- Example: select * from trending_topics_over(30) where growth is not null limit 10;
create or replace macro trending_topics_over(days) as table
with bounds as (
    select max(listed_on) as window_end, min(listed_on) as first_day
    from internal.stg_listings
),

windowed as (
    select
        t.topic,
        l.paper_id,
        l.listed_on > b.window_end - days::integer as is_recent
    from internal.stg_listings as l
    inner join internal.stg_paper_topics as t using (paper_id)
    cross join bounds as b
    where l.listed_on > b.window_end - 2 * days::integer
),

counts as (
    select
        topic,
        count(distinct paper_id) filter (where is_recent) as n_recent,
        count(distinct paper_id) filter (where not is_recent) as n_previous
    from windowed
    group by topic
),

final as (
    select
        c.topic,
        b.window_end,
        c.n_recent,
        c.n_previous,
        case
            when b.first_day > b.window_end - 2 * days::integer + 1 or c.n_previous = 0
                then null
            else round((c.n_recent - c.n_previous) / c.n_previous, 4)
        end as growth,
        least(b.window_end - b.first_day + 1, 2 * days::integer) as history_days
    from counts as c
    cross join bounds as b
)

select * from final
order by growth desc nulls last, n_recent desc, topic;

create or replace view trending_topics as
select * from trending_topics_over(7)
