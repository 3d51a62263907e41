-- Staging: entity names per paper, as spelled in the text.
create or replace view stg_paper_entities as
select paper_id, entity, role
from lake_paper_entities
