-- Summary query (run at ingest, not a view): how many titles of each of some words
-- title_words stores already (n_stored), for paperlake.summaries.first_titles.
-- indexed_words: the distinct words of the titles a run indexes (title_words.sql, a frame
-- the run registers); stored_words: the lake's title_words (the run's transaction names it).
-- Words are word_hash integers (macros.sql).
-- A query of its own, not a CTE of title_words.sql: there DuckDB, not knowing how few the
-- words are, probed the words with the whole table (a daily run's title_words cost 0.25 s
-- of CPU on a 10-year lake; split in two, 0.14 s).
select word, count(*) as n_stored
from stored_words
where word in (select word from indexed_words)
group by word
