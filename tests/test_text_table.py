"""`ronda candidates` prints tens of thousands of rows through reconcile.queries.text_table, a faster
twin of collector.output.table: the two must print the same table."""

from __future__ import annotations

import pytest

from ronda.collector.output import table
from ronda.collector.reconcile.queries import text_table

HEADERS = ["app", "name", "summary"]


@pytest.mark.parametrize(
    "rows",
    [
        # candidates as a province's inventory names them: ids, Indonesian names, long summaries
        [
            ("simpeg-bkd", "Sistem Informasi Kepegawaian", "no human request in 214 days"),
            ("web-07/wordpress", "Portal Dinas Pariwisata", "idle since 2026-03-01; owner left"),
        ],
        # a hostile host's vhost name carrying a terminal escape and a format directive
        [("evil\x1b[2Jhost", "%s %d 100%", "\x07bell"), ("ok", "", "")],
        # one row whose widest cell is the header
        [("a", "b", "c")],
    ],
    ids=["inventory", "hostile", "narrow"],
)
def test_the_fast_table_prints_what_the_general_one_does(rows):
    general = table([dict(zip(HEADERS, r, strict=True)) for r in rows], HEADERS)
    # alike but for the blanks that pad a row whose last cells are empty
    assert [line.rstrip() for line in text_table(HEADERS, rows).splitlines()] == general.splitlines()


def test_a_single_column_table_has_no_leading_gap():
    assert text_table(["app"], [("simpeg",), ("sipd",)]).splitlines() == ["APP", "------", "simpeg", "sipd"]
