"""The dump contract, one rule per test, on small hostile fixtures."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from paperlake.parse import (
    MAX_DUMP_BYTES,
    DumpRejected,
    capture_date_from_name,
    looks_like_abstract,
    parse_dump,
    resolve_listed_on,
)
from paperlake.rejects import Reject
from tests.conftest import SAMPLE_CAPTURE, SAMPLES
from tests.dumps import PAPERS, abstract, dump_bytes, render

CAPTURED = date(2025, 3, 20)


def titles(data: bytes, captured: date = CAPTURED) -> list[tuple[int, str]]:
    return [(e.position, e.title) for e in parse_dump(data, captured).entries]


def test_sample_dumps_parse_completely() -> None:
    counts = {}
    for path in sorted(SAMPLES.iterdir()):
        parsed = parse_dump(path.read_bytes(), SAMPLE_CAPTURE)
        assert parsed.listed_on == date(2025, 3, 14)
        assert parsed.problems == []
        counts[path.name] = len(parsed.entries)
    assert counts == {"000_9cf45ac0ac824760.txt": 55, "004_60d37dd4bbb87380.txt": 60}


def test_first_sample_entry_pairs_title_with_its_own_abstract() -> None:
    parsed = parse_dump((SAMPLES / "000_9cf45ac0ac824760.txt").read_bytes(), SAMPLE_CAPTURE)
    first = parsed.entries[0]
    assert first.title.startswith("RandLoRA: Full-rank")
    assert first.abstract.startswith("Low-Rank Adaptation (LoRA)")
    assert first.position == 1
    assert first.line == 11


# ---- noise is not an error -------------------------------------------------------------
CLEAN = dump_bytes(PAPERS)


@pytest.mark.parametrize(
    "name, data",
    [
        ("bom", b"\xef\xbb\xbf" + CLEAN),
        ("crlf", render(PAPERS, newline="\r\n").encode()),
        ("cr_only", render(PAPERS, newline="\r").encode()),
        ("mixed_crlf_lf", CLEAN.replace(b"\n\n", b"\r\n\n", 3)),
        ("trailing_spaces", CLEAN.replace(b"\n", b"   \t\n")),
        ("extra_blank_lines", CLEAN.replace(b"\n\n", b"\n\n\n\n\n")),
        ("whitespace_only_separators", CLEAN.replace(b"\n\n", b"\n \t \n")),
        ("nbsp_separators", CLEAN.replace(b"\n\n", "\n\u00a0\n".encode())),
        ("no_chrome", render(PAPERS, chrome=[]).encode()),
        ("leading_blank_lines", b"\n\n\n" + CLEAN),
    ],
)
def test_noise_parses_like_the_clean_dump(name: str, data: bytes) -> None:
    assert titles(data) == titles(CLEAN), name


def test_title_wrapped_over_two_lines_is_one_title() -> None:
    data = render(PAPERS).replace("Anarchic Federated", "Anarchic\nFederated").encode()
    assert (2, "Anarchic Federated Learning") in titles(data)


# ---- whole-file rejects ----------------------------------------------------------------
@pytest.mark.parametrize(
    "name, data, reason, detail",
    [
        ("empty", b"", Reject.EMPTY, "no text"),
        ("whitespace_only", b"  \n\n\t \r\n", Reject.EMPTY, "no text"),
        (
            "latin1",
            render(PAPERS).replace("We study", "We st\xe4dy").encode("latin-1"),
            Reject.NOT_UTF8,
            "byte 0xe4 at offset",
        ),
        ("nul_byte", CLEAN[:100] + b"\x00" + CLEAN[100:], Reject.BINARY, "NUL byte at offset 100"),
        ("utf16", render(PAPERS).encode("utf-16"), Reject.BINARY, "NUL byte"),
        ("html", b"<!DOCTYPE html><html><body>Mar 14</body></html>", Reject.HTML, "HTML page"),
        ("html_lowercase_with_bom", b"\xef\xbb\xbf  <html lang=en><head>", Reject.HTML, "HTML"),
        (
            "no_date_label",
            render(PAPERS, label="Trending").encode(),
            Reject.NO_DATE_LABEL,
            "no date label",
        ),
        ("feb_30", dump_bytes(PAPERS, label="Feb 30"), Reject.IMPOSSIBLE_DATE, "'Feb 30'"),
        ("mar_0", dump_bytes(PAPERS, label="Mar 0"), Reject.IMPOSSIBLE_DATE, "'Mar 0'"),
        ("apr_31", dump_bytes(PAPERS, label="Apr 31"), Reject.IMPOSSIBLE_DATE, "'Apr 31'"),
        ("label_only", dump_bytes([]), Reject.NO_ENTRIES, "no title+abstract pairs"),
        (
            "titles_only",
            "\n\n".join(["Mar 14", "A title", "Another title"]).encode(),
            Reject.NO_ENTRIES,
            "2 damaged entries",
        ),
    ],
)
def test_whole_file_rejects(name: str, data: bytes, reason: Reject, detail: str) -> None:
    with pytest.raises(DumpRejected) as rejected:
        parse_dump(data, CAPTURED)
    assert rejected.value.reason is reason, name
    assert detail in rejected.value.detail, rejected.value.detail


def test_reject_names_the_line_of_a_bad_label() -> None:
    with pytest.raises(DumpRejected) as rejected:
        parse_dump(dump_bytes(PAPERS, label="Feb 30"), CAPTURED)
    assert rejected.value.line == 9
    assert "(line 9)" in str(rejected.value)


def test_file_larger_than_any_dump_is_rejected() -> None:
    with pytest.raises(DumpRejected) as rejected:
        parse_dump(b"a" * (MAX_DUMP_BYTES + 1), CAPTURED)
    assert rejected.value.reason is Reject.TOO_LARGE


def test_impossible_date_in_chrome_lookalike_is_not_a_label() -> None:
    # "Foo 12" is not a month; the real label further down is used.
    data = render(PAPERS, chrome=["Foo 12", "Subscribe"]).encode()
    assert parse_dump(data, CAPTURED).listed_on == date(2025, 3, 14)


@pytest.mark.parametrize("label", ["Mar 14", "mar 14", "March 14", "Mar. 14", "MAR 14"])
def test_label_spellings(label: str) -> None:
    assert parse_dump(dump_bytes(PAPERS, label=label), CAPTURED).listed_on == date(2025, 3, 14)


# ---- damaged entries never shift the pairing -------------------------------------------
def test_title_without_abstract_in_the_middle_is_isolated() -> None:
    blocks = [
        "Mar 14",
        "First paper",
        abstract("a"),
        "Lost its abstract",
        "Third paper",
        abstract("c"),
    ]
    parsed = parse_dump("\n\n".join(blocks).encode(), CAPTURED)
    assert [(e.position, e.title, e.abstract) for e in parsed.entries] == [
        (1, "First paper", abstract("a")),
        (3, "Third paper", abstract("c")),
    ]
    [problem] = parsed.problems
    assert problem.reason is Reject.MISSING_ABSTRACT
    assert (problem.position, problem.title, problem.line) == (2, "Lost its abstract", 7)


def test_truncated_dump_loses_only_its_last_entry() -> None:
    data = render(PAPERS).encode() + b"\nA title cut off by the capture\n"
    parsed = parse_dump(data, CAPTURED)
    assert [e.title for e in parsed.entries] == [t for t, _ in PAPERS]
    [problem] = parsed.problems
    assert problem.reason is Reject.MISSING_ABSTRACT
    assert "end of the dump" in problem.detail


def test_abstract_without_title_is_isolated() -> None:
    blocks = [
        "Mar 14",
        "First paper",
        abstract("a"),
        abstract("orphan"),
        "Third paper",
        abstract("c"),
    ]
    parsed = parse_dump("\n\n".join(blocks).encode(), CAPTURED)
    assert [e.title for e in parsed.entries] == ["First paper", "Third paper"]
    assert [p.reason for p in parsed.problems] == [Reject.ABSTRACT_WITHOUT_TITLE]


def test_a_title_ending_in_an_exclamation_mark_is_never_an_abstract() -> None:
    blocks = ["Mar 14", "Lost its abstract", "SWE-bench Goes Live!", abstract("live")]
    parsed = parse_dump("\n\n".join(blocks).encode(), CAPTURED)
    assert [(e.title, e.abstract) for e in parsed.entries] == [
        ("SWE-bench Goes Live!", abstract("live"))
    ]
    [problem] = parsed.problems
    assert (problem.reason, problem.title) == (Reject.MISSING_ABSTRACT, "Lost its abstract")


@pytest.mark.parametrize("title", ["Octo 2", "May 7", "Sept 11", "March 8"])
def test_a_title_that_reads_as_a_date_label_is_a_title(title: str) -> None:
    """Followed by its abstract, it is no second page's label (several_pages)."""
    parsed = parse_dump(dump_bytes([PAPERS[0], (title, abstract("a robot policy"))]), CAPTURED)
    assert [e.title for e in parsed.entries] == [PAPERS[0][0], title]


def test_short_single_sentence_abstract_still_pairs() -> None:
    blocks = ["Mar 14", "First paper", "We prove a bound.", "Second paper", abstract()]
    parsed = parse_dump("\n\n".join(blocks).encode(), CAPTURED)
    assert [(e.title, e.abstract) for e in parsed.entries] == [
        ("First paper", "We prove a bound."),
        ("Second paper", abstract()),
    ]


def test_very_long_title_stays_a_title() -> None:
    long_title = " ".join(["word"] * 1000)  # 5,000 chars, no sentence inside
    parsed = parse_dump(dump_bytes([(long_title, abstract()), *PAPERS]), CAPTURED)
    assert parsed.entries[0].title == long_title
    assert len(parsed.entries) == 4


def test_abstract_classifier() -> None:
    assert looks_like_abstract(abstract())
    assert not looks_like_abstract("When, Why and How Much? Adaptive Learning Rate Scheduling")


# ---- dates ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "month, day, captured, expected",
    [
        (3, 14, date(2025, 3, 14), date(2025, 3, 14)),
        # a label a day ahead of its capture date: a page dated in a zone ahead
        (3, 14, date(2025, 3, 13), date(2025, 3, 14)),
        (1, 1, date(2025, 12, 31), date(2026, 1, 1)),
        (3, 14, date(2025, 3, 12), date(2024, 3, 14)),
        (12, 31, date(2027, 1, 1), date(2026, 12, 31)),
        (2, 29, date(2025, 3, 1), date(2024, 2, 29)),
        (2, 29, date(2024, 2, 28), date(2024, 2, 29)),
        (2, 29, date(2024, 2, 27), date(2020, 2, 29)),
        (2, 30, date(2025, 3, 1), None),
    ],
)
def test_year_is_the_latest_on_or_before_the_day_after_capture(
    month: int, day: int, captured: date, expected: date | None
) -> None:
    assert resolve_listed_on(month, day, captured) == expected


@pytest.mark.parametrize(
    "name, expected",
    [
        ("2027-01-01_x.txt", date(2027, 1, 1)),
        ("dump-2025-03-14-2025-04-01.txt", date(2025, 3, 14)),
        ("2025-13-45_then_2025-03-02.txt", date(2025, 3, 2)),
        ("000_9cf45ac0ac824760.txt", None),
    ],
)
def test_capture_date_from_file_name(name: str, expected: date | None) -> None:
    assert capture_date_from_name(name) == expected


def test_dec_31_label_in_a_new_year_file() -> None:
    data = dump_bytes(PAPERS, label="Dec 31")
    captured = capture_date_from_name(Path("2027-01-01_x.txt").name)
    assert captured is not None
    assert parse_dump(data, captured).listed_on == date(2026, 12, 31)


def test_two_titles_in_a_row_without_abstracts() -> None:
    blocks = ["Mar 14", "Lost one", "Lost two", "Kept", abstract(), "Last lost"]
    parsed = parse_dump("\n\n".join(blocks).encode(), CAPTURED)
    assert [(e.position, e.title) for e in parsed.entries] == [(3, "Kept")]
    assert [(p.position, p.title) for p in parsed.problems] == [
        (1, "Lost one"),
        (2, "Lost two"),
        (4, "Last lost"),
    ]
