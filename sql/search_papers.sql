-- search_papers(terms, k): BM25 full-text search over title and abstract.  `terms` is a
-- list of words (a string is refused: pass ['world'], not 'world'), each lower-cased and
-- split at spaces here, so ['World Models'] finds what ['world', 'models'] does;
-- punctuation is not stripped (`paperlake search "query"` tokenizes as the index does).
-- Grain: paper, the k best (unordered, like every view: order by score desc).
-- k1 = 1.2, b = 0.75.
--   score                              BM25 score
--   first_listed_on, last_listed_on,
--   n_listing_days                     when the paper was on the page
-- The index (lake table paper_terms) grows with each publish: a new paper is searchable
-- as soon as its run publishes.  BM25 is computed here in plain SQL: DuckDB's fts
-- extension is downloaded by INSTALL, which an offline client cannot do.
-- Example: select title, score from search_papers(['federated', 'learning'], k := 10)
--          order by score desc, title;
create or replace macro search_papers(terms, k := 20) as table
-- stg_papers and stg_paper_terms are each read twice, so they are read where used, not
-- imported: DuckDB materializes a CTE a macro reads twice (a copy of the whole index), and
-- a stored macro does not keep a NOT MATERIALIZED hint.
with listing_stats as (
    select paper_id, first_listed_on, last_listed_on, n_listing_days
    from internal.stg_paper_listing_stats
),

query_terms as (
    select distinct unnest(string_split_regex(lower(trim(given)), '\s+')) as term
    from (select unnest(terms) as given)
),

documents as (
    -- Every paper is a document; its length is the sum of its term counts.  (A distinct
    -- over the ten-million-row index cost ~250 ms per search at 10 years.)
    select n_docs, n_words / n_docs as avg_len
    from
        (select count(*) as n_docs from internal.stg_papers),
        (select sum(tf) as n_words from internal.stg_paper_terms)
),

matches as (
    select t.paper_id, t.term, t.tf, t.doc_len
    from internal.stg_paper_terms as t
    inner join query_terms using (term)
),

document_frequency as (
    select term, count(*) as df
    from matches
    group by term
),

scored as (
    select
        m.paper_id,
        sum(
            ln((d.n_docs - f.df + 0.5) / (f.df + 0.5) + 1)
            * m.tf * 2.2 / (m.tf + 1.2 * (0.25 + 0.75 * m.doc_len / d.avg_len))
        ) as score
    from matches as m
    inner join document_frequency as f using (term)
    cross join documents as d
    group by m.paper_id
),

best as (
    -- The top k first, so listing dates are looked up for k papers, not every match.  The
    -- order by here selects the k rows; it does not order the result.
    select s.paper_id, p.title, round(s.score, 4) as score
    from scored as s
    inner join internal.stg_papers as p using (paper_id)
    order by score desc, p.title
    limit k
),

final as (
    select
        b.paper_id,
        b.title,
        b.score,
        l.first_listed_on,
        l.last_listed_on,
        l.n_listing_days
    from best as b
    inner join listing_stats as l using (paper_id)
)

select * from final
