-- Staging: the full-text index, term counts per paper.
create or replace view internal.stg_paper_terms as
select paper_id, term, tf, doc_len
from internal.lake_paper_terms
