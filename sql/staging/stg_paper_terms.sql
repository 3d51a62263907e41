-- Staging: the full-text index, term counts per paper.
create or replace view stg_paper_terms as
select paper_id, term, tf, doc_len
from lake_paper_terms
