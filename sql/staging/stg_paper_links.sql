-- Staging: links found in abstracts; repo is owner/name for GitHub repositories.
create or replace view internal.stg_paper_links as
select
    paper_id,
    url,
    kind,
    repo,
    lower(repo) as repo_key  -- GitHub names compare case-insensitively
from internal.lake_paper_links
