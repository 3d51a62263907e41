-- keyphrase_frequency: automatic keyphrases (1-3 title words, no stopwords or LaTeX
-- leftovers) per page date, so topics nobody put in the taxonomy still show.
-- Grain: phrase x listed_on.
--   n_papers   distinct papers with the phrase listed that day
--   n_words    1, 2 or 3
-- Summarized at ingest (lake table keyphrase_daily), because the
-- phrase x day aggregate is millions of rows at 10 years.
-- Example: select phrase, sum(n_papers) n from keyphrase_frequency where n_words > 1
--          group by phrase order by n desc limit 20;
create or replace view keyphrase_frequency as
with keyphrase_daily as (
    select phrase, listed_on, n_papers, n_words
    from internal.stg_keyphrase_daily
)

select * from keyphrase_daily
