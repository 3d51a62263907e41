-- Staging: keyphrases per paper (1-3 words of its title).
create or replace view stg_paper_keyphrases as
select paper_id, phrase, n_words
from lake_paper_keyphrases
