-- Staging: the GitHub repos each paper's abstract links, once per (paper, repo spelling).
-- Hand-written because it computes: it keeps repo links only and adds repo_key, the
-- repo's identity (GitHub names compare case-insensitively).
create or replace view internal.stg_paper_repos as
with links as (
    select paper_id, repo
    from internal.stg_paper_links
    where kind = 'repo'
)

select distinct paper_id, repo, lower(repo) as repo_key
from links
