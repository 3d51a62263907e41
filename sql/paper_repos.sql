-- paper_repos: which paper links which GitHub repo, to join `papers` and `listings`
-- (paper_id) with `repos` (repo).  Grain: paper x repo (case-insensitive, as in `repos`).
--   paper_id          the paper (as in `papers`, `listings`, `paper_topics`)
--   repo              owner/name, spelled as in `repos`
-- Example: select p.title, r.repo, r.n_listings
--          from paper_repos join papers as p using (paper_id) join repos as r using (repo)
--          order by r.n_listings desc, p.title limit 10;
create or replace view paper_repos as
with paper_repos as (
    select paper_id, repo, repo_key
    from internal.stg_paper_repos
),

final as (
    -- repos spells a repo as the first of its spellings in sort order
    select distinct paper_id, min(repo) over (partition by repo_key) as repo
    from paper_repos
)

select * from final
