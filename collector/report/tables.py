"""One way to write a report table: fixed column shares (so content never widens it), a label on
each cell (so a narrow screen can show each row as a card), a header repeated on every printed page."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ronda.collector.report.parts import e


@dataclass(frozen=True)
class Column:
    label: str
    share: float  # of the table's width, in percent
    css: str = ""  # "num" right-aligns; "wide" takes a whole line when a row shows as a card


def table(
    table_id: str,
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    empty: str,
    row_attrs: Sequence[str] = (),
) -> str:
    """`rows` hold each cell's HTML; `row_attrs` extra attributes for each <tr> (data-subject=...)."""
    total = sum(c.share for c in columns)
    out = [f'<table id="{e(table_id)}" class="rows"><colgroup>']
    out += [f'<col style="width:{100 * c.share / total:.2f}%">' for c in columns]
    out.append("</colgroup><thead><tr>")
    out += [f'<th scope="col"{_cls(c.css)}>{e(c.label)}</th>' for c in columns]
    out.append("</tr></thead><tbody>")
    for i, cells in enumerate(rows):
        attrs = f" {row_attrs[i]}" if i < len(row_attrs) and row_attrs[i] else ""
        out.append(f"<tr{attrs}>")
        out += [
            f'<td data-label="{e(c.label)}"{_cls(c.css)}>{cell}</td>'
            for c, cell in zip(columns, cells, strict=True)
        ]
        out.append("</tr>")
    if not rows:
        out.append(f'<tr><td colspan="{len(columns)}" class="muted">{e(empty)}</td></tr>')
    out.append("</tbody></table>")
    return "".join(out)


def _cls(css: str) -> str:
    return f' class="{css}"' if css else ""
