-- Staging: keyphrases per paper (1-3 words of its title).
create or replace view internal.stg_paper_keyphrases as
select paper_id, phrase, n_words
from internal.lake_paper_keyphrases
