"""Property-based tests of the parser (hypothesis)."""

from __future__ import annotations

from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paperlake.parse import DumpRejected, parse_dump
from paperlake.rejects import FILE_REASONS
from tests.dumps import render

CAPTURED = date(2025, 3, 20)
EXAMPLES = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# Words of any script, with inner punctuation, but never a sentence end: that is what titles
# look like.  Abstracts are sentences ending in a full stop.
_word = st.text(
    alphabet=st.characters(categories=("L", "N"), include_characters="-:,'()&+/"),
    min_size=1,
    max_size=12,
).filter(lambda w: w.strip("-:,'()&+/") != "")
_title = st.lists(_word, min_size=1, max_size=15).map(" ".join)
_sentence = st.lists(_word, min_size=1, max_size=25).map(lambda ws: " ".join(ws) + ".")
_abstract = st.lists(_sentence, min_size=1, max_size=8).map(" ".join)


def assert_entries_or_documented_reject(data: bytes) -> None:
    try:
        parsed = parse_dump(data, CAPTURED)
    except DumpRejected as rejected:
        assert rejected.reason in FILE_REASONS
        assert rejected.detail
    else:
        assert parsed.entries
        assert all(e.title and e.abstract and e.position >= 1 for e in parsed.entries)


@EXAMPLES
@given(st.binary(max_size=4096))
def test_any_bytes_give_entries_or_a_documented_reject(data: bytes) -> None:
    assert_entries_or_documented_reject(data)


@EXAMPLES
@given(st.text(max_size=2000))
def test_any_text_after_a_label_gives_entries_or_a_documented_reject(text: str) -> None:
    assert_entries_or_documented_reject(("Mar 14\n\n" + text).encode("utf-8", "surrogatepass"))


@EXAMPLES
@given(
    st.lists(st.tuples(_title, _abstract), min_size=1, max_size=12),
    st.sampled_from(["\n", "\r\n", "\r"]),
    st.booleans(),
)
def test_rendered_entries_parse_back(
    entries: list[tuple[str, str]], newline: str, bom: bool
) -> None:
    data = render(entries, newline=newline).encode()
    parsed = parse_dump((b"\xef\xbb\xbf" if bom else b"") + data, CAPTURED)
    assert parsed.problems == []
    assert [(e.title, e.abstract) for e in parsed.entries] == entries
    assert [e.position for e in parsed.entries] == list(range(1, len(entries) + 1))
