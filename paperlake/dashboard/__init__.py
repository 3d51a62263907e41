"""``warehouse/dashboard.html``: one self-contained page answering the views' questions.

Every section is one small function reading the public views (the paper figures: two of
their staging views, :data:`~paperlake.dashboard.sections.PAPERS_SQL`) through a read-only
connection and returning its question, an optional Vega-Lite chart (plain dicts) and
HTML.  Data is aggregated (weekly, top N) so the page stays small at ten years.  The
Vega, Vega-Lite and vega-embed libraries are inlined from ``vl_convert``: the page opens
from disk, by e-mail or on any static host with no network at all, and its Content
Security Policy forbids the browser to load anything.  :func:`write_page` refuses a page
that references anything external and swaps it into place atomically.

The package, by concern: ``format`` (a section and its HTML: text, dates, tables),
``charts`` (its rows and Vega-Lite spec), ``sections`` (one function per section, its
query next to its chart; ``health`` the run-health one), ``page`` (the HTML with its
headline figures, CSP and inlined libraries; the writer).
"""

from paperlake.dashboard.charts import records
from paperlake.dashboard.format import Section, count, day, table, text
from paperlake.dashboard.page import (
    ExternalReference,
    external_references,
    library_bundle,
    render_page,
    render_section,
    write_dashboard,
    write_page,
)

__all__ = [
    "ExternalReference",
    "Section",
    "count",
    "day",
    "external_references",
    "library_bundle",
    "records",
    "render_page",
    "render_section",
    "table",
    "text",
    "write_dashboard",
    "write_page",
]
