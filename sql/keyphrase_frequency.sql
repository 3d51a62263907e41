-- keyphrase_frequency: automatic keyphrases (1-3 words, no stopwords or LaTeX leftovers)
-- per page date, so topics nobody put in the taxonomy still show.
-- Grain: phrase x listed_on.
--   n_papers   distinct papers with the phrase listed that day
--   n_words    1, 2 or 3
-- Example: select phrase, sum(n_papers) n from keyphrase_frequency where n_words > 1
--          group by phrase order by n desc limit 20;
create or replace view keyphrase_frequency as
with daily_papers as (
    select distinct listed_on, paper_id
    from stg_listings
),

final as (
    select k.phrase, d.listed_on, count(*) as n_papers, any_value(k.n_words) as n_words
    from daily_papers as d
    inner join stg_paper_keyphrases as k using (paper_id)
    group by k.phrase, d.listed_on
)

select * from final
