-- Staging: distinct papers (normalized title) with the title and abstract first seen.
create or replace view internal.stg_papers as
select paper_id, title_key, title, abstract, first_dump_id, taxonomy_version
from internal.lake_papers
