-- Staging: near-duplicate title pairs, found at ingest (sql/summaries/title_pairs.sql).
create or replace view internal.stg_title_pairs as
select paper_id_a, paper_id_b, similarity
from internal.lake_title_pairs
