-- The integers title_words stores instead of strings (paperlake.summaries: TITLE_MACROS),
-- defined on a run's connection before the title queries and the lake's one-time rewrite of
-- an older title_words (paperlake.lake.catalog).  One definition, so that a word and a paper
-- always map to the same numbers: word_hash is the lower 64 bits of the word's md5 (stable
-- across DuckDB versions, unlike hash()); paper_number is the paper_id's 16 hex digits read as
-- one UBIGINT, and paper_hex gives them back (zero-padded, lower case, as paper_id writes them).
create or replace temp macro word_hash(word) as md5_number_lower(word);
create or replace temp macro paper_number(paper_id) as ('0x' || paper_id)::ubigint;
create or replace temp macro paper_hex(paper_number) as printf('%016x', paper_number);
