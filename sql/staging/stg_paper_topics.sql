-- Staging: taxonomy topics per paper.
create or replace view stg_paper_topics as
select paper_id, topic
from lake_paper_topics
