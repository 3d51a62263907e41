-- Staging: distinct papers per keyphrase and page date, summarized at ingest.
create or replace view internal.stg_keyphrase_daily as
select phrase, listed_on, n_papers, n_words
from internal.lake_keyphrase_daily
