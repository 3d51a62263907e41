-- Staging: entity names per paper, as spelled in the text.
create or replace view internal.stg_paper_entities as
select paper_id, entity, role
from internal.lake_paper_entities
