-- Staging: taxonomy topics per paper.
create or replace view internal.stg_paper_topics as
select paper_id, topic
from internal.lake_paper_topics
