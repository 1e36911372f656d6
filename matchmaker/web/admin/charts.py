"""Charts drawn on the server as inline SVG: no script, no CDN, no style attributes.

Each chart is an accessible image (role="img" named by its <title> and described by its <desc>, with a
<title> tooltip on every mark) and carries its data as a table, which `templates/admin/_charts.html`
renders beside it for screen readers and for anyone who wants the exact numbers. Colours are the
Okabe-Ito palette, which stays distinguishable with the common colour-vision deficiencies.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000", "#F0E442")
OTHER_COLOUR = "#999999"
HEAT = ("#f7fbff", "#c6dbef", "#6baed6", "#2171b5", "#08306b")  # light to dark
INK, MUTED, GRID = "#1f2933", "#616e7c", "#d9e2ec"
FONT = '"PingFang SC","Microsoft YaHei","WenQuanYi Micro Hei","Noto Sans CJK SC",sans-serif'
TEXT_SIZE = 12


@dataclass(frozen=True)
class Table:
    headers: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class Chart:
    """A drawn chart; `empty` is the sentence shown instead of it when it has no data to draw."""

    id: str
    title: str
    description: str
    svg: Markup
    table: Table
    empty: str = ""


def _blank(chart_id: str, title: str, sentence: str, table: Table) -> Chart:
    """A chart with nothing to draw: one sentence in place of an empty plot or a zero axis."""
    return Chart(chart_id, title, sentence, Markup(""), table, empty=sentence)


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float]


def text_width(text: str, size: int = TEXT_SIZE) -> float:
    """Rough rendered width: a CJK character is a full em, other characters about 0.6 em."""
    return sum(size if ord(char) > 0x2E7F else size * 0.6 for char in text)


def number(value: float) -> str:
    """12 -> "12", 12.5 -> "12.5", 0.333 -> "0.33"."""
    return f"{value:.2f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))


def _nice_max(value: float) -> float:
    """The axis top: 1, 2, 2.5 or 5 times a power of ten, at least `value` (and at least 1)."""
    if value <= 1:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10.0 * magnitude


def _attrs(**attributes: object) -> str:
    return " ".join(
        f'{name.rstrip("_").replace("_", "-")}="{escape(str(value))}"' for name, value in attributes.items()
    )


def _el(tag: str, body: str = "", **attributes: object) -> str:
    return f"<{tag} {_attrs(**attributes)}>{body}</{tag}>" if body else f"<{tag} {_attrs(**attributes)}/>"


def _text(x: float, y: float, text: str, anchor: str = "start", fill: str = INK, size: int = TEXT_SIZE) -> str:
    return _el("text", str(escape(text)), x=round(x, 1), y=round(y, 1), text_anchor=anchor, fill=fill, font_size=size)


def _mark(shape: str, tooltip: str, **attributes: object) -> str:
    return _el(shape, f"<title>{escape(tooltip)}</title>", **attributes)


def _svg(chart_id: str, title: str, description: str, width: float, height: float, body: list[str]) -> Markup:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f"{_attrs(viewBox=f'0 0 {round(width)} {round(height)}', width='100%', font_family=FONT)} "
        f'aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc">'
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>'
        f'<desc id="{escape(chart_id)}-desc">{escape(description)}</desc>'
    )
    return Markup(head + "".join(body) + "</svg>")


def _legend(names: Sequence[str], colours: Sequence[str], x: float, y: float, width: float) -> tuple[list[str], float]:
    """Legend entries flowing in rows from (x, y) within `width`; returns the marks and the height used."""
    marks, left, top = [], x, y
    for name, colour in zip(names, colours, strict=True):
        entry = 18 + text_width(name) + 16
        if left + entry > x + width and left > x:
            left, top = x, top + 20
        marks.append(_el("rect", x=round(left, 1), y=top, width=12, height=12, fill=colour))
        marks.append(_text(left + 16, top + 11, name))
        left += entry
    return marks, top - y + 20


def colours_for(names: Sequence[str], other: str | None = None) -> list[str]:
    return [OTHER_COLOUR if name == other else PALETTE[i % len(PALETTE)] for i, name in enumerate(names)]


# --- charts ---------------------------------------------------------------------------------------


def bar_chart(
    chart_id: str,
    title: str,
    description: str,
    items: Sequence[tuple[str, float]],
    unit: str = "",
    empty: str = "区间内没有数据。",
) -> Chart:
    """Horizontal bars, one per (label, value), in the given order (long Chinese labels read well)."""
    if not any(value for _, value in items):
        return _blank(chart_id, title, empty, Table(["项目", "数值"], []))
    label_width = max((text_width(label) for label, _ in items), default=0) + 12
    top_value = _nice_max(max((value for _, value in items), default=0))
    bar_area, row = 420.0, 26
    width = label_width + bar_area + 60
    body = []
    for i, (label, value) in enumerate(items):
        y = 8 + i * row
        length = bar_area * value / top_value
        body.append(_text(label_width - 8, y + 15, label, anchor="end"))
        tooltip = f"{label}：{number(value)}{unit}"
        body.append(
            _mark(
                "rect",
                tooltip,
                x=round(label_width, 1),
                y=y + 3,
                width=round(length, 1),
                height=row - 8,
                fill=PALETTE[0],
            )
        )
        body.append(_text(label_width + length + 6, y + 15, f"{number(value)}{unit}", fill=MUTED))
    height = 16 + max(1, len(items)) * row
    table = Table(["项目", f"数值{f'（{unit}）' if unit else ''}"], [[label, number(value)] for label, value in items])
    return Chart(chart_id, title, description, _svg(chart_id, title, description, width, height, body), table)


def _axes(left: float, top: float, plot_w: float, plot_h: float, top_value: float, categories: Sequence[str]):
    """Horizontal grid lines with values, and category labels under the plot (every nth when crowded)."""
    marks = []
    for step in range(5):
        value = top_value * step / 4
        y = top + plot_h - plot_h * step / 4
        marks.append(_el("line", x1=left, y1=round(y, 1), x2=left + plot_w, y2=round(y, 1), stroke=GRID))
        marks.append(_text(left - 6, y + 4, number(value), anchor="end", fill=MUTED))
    slot = plot_w / max(1, len(categories))
    every = max(1, int(text_width("2026-12") + 8) // int(slot) + 1) if slot else 1
    for i, category in enumerate(categories):
        if i % every == 0:
            marks.append(_text(left + slot * (i + 0.5), top + plot_h + 16, category, anchor="middle", fill=MUTED))
    return marks, slot


def _series_table(categories: Sequence[str], series: Sequence[Series], first_header: str) -> Table:
    headers = [first_header, *[s.name for s in series], "合计"]
    rows = []
    for i, category in enumerate(categories):
        values = [s.values[i] for s in series]
        rows.append([category, *[number(v) for v in values], number(sum(values))])
    return Table(headers, rows)


def stacked_bar_chart(
    chart_id: str,
    title: str,
    description: str,
    categories: Sequence[str],
    series: Sequence[Series],
    other: str | None = None,
    empty: str = "区间内没有数据。",
) -> Chart:
    """Vertical columns per category (e.g. month), stacked by series; `other` is drawn grey."""
    if not any(v for s in series for v in s.values):
        return _blank(chart_id, title, empty, _series_table(categories, series, "月份"))
    left, top, plot_w, plot_h = 44.0, 12.0, 640.0, 220.0
    totals = [sum(s.values[i] for s in series) for i in range(len(categories))]
    top_value = _nice_max(max(totals, default=0))
    body, slot = _axes(left, top, plot_w, plot_h, top_value, categories)
    colours = colours_for([s.name for s in series], other)
    bar_w = max(4.0, slot * 0.6)
    for i, category in enumerate(categories):
        base = top + plot_h
        for s, colour in zip(series, colours, strict=True):
            value = s.values[i]
            if not value:
                continue
            h = plot_h * value / top_value
            base -= h
            body.append(
                _mark(
                    "rect",
                    f"{category} {s.name}：{number(value)}",
                    x=round(left + slot * i + (slot - bar_w) / 2, 1),
                    y=round(base, 1),
                    width=round(bar_w, 1),
                    height=round(h, 1),
                    fill=colour,
                )
            )
    legend, legend_h = _legend([s.name for s in series], colours, left, top + plot_h + 30, plot_w)
    height = top + plot_h + 30 + legend_h
    svg = _svg(chart_id, title, description, left + plot_w + 16, height, body + legend)
    return Chart(chart_id, title, description, svg, _series_table(categories, series, "月份"))


def line_chart(
    chart_id: str,
    title: str,
    description: str,
    categories: Sequence[str],
    series: Sequence[Series],
    empty: str = "区间内没有数据。",
) -> Chart:
    """One line per series over the categories (e.g. months), with a dot per value."""
    if not any(v for s in series for v in s.values):
        return _blank(chart_id, title, empty, _series_table(categories, series, "月份"))
    left, top, plot_w, plot_h = 44.0, 12.0, 640.0, 220.0
    top_value = _nice_max(max((v for s in series for v in s.values), default=0))
    body, slot = _axes(left, top, plot_w, plot_h, top_value, categories)
    colours = colours_for([s.name for s in series])
    for s, colour in zip(series, colours, strict=True):
        points = [
            (left + slot * (i + 0.5), top + plot_h - plot_h * value / top_value) for i, value in enumerate(s.values)
        ]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        body.append(_el("polyline", points=path, fill="none", stroke=colour, stroke_width=2))
        for (x, y), category, value in zip(points, categories, s.values, strict=True):
            body.append(
                _mark(
                    "circle",
                    f"{category} {s.name}：{number(value)}",
                    cx=round(x, 1),
                    cy=round(y, 1),
                    r=3.5,
                    fill=colour,
                )
            )
    legend, legend_h = _legend([s.name for s in series], colours, left, top + plot_h + 30, plot_w)
    height = top + plot_h + 30 + legend_h
    svg = _svg(chart_id, title, description, left + plot_w + 16, height, body + legend)
    return Chart(chart_id, title, description, svg, _series_table(categories, series, "月份"))


def funnel_chart(
    chart_id: str, title: str, description: str, stages: Sequence[tuple[str, int]], empty: str = "区间内没有数据。"
) -> Chart:
    """Centred bars narrowing stage by stage, each with its count and its share of the first stage."""
    if not any(count for _, count in stages):
        return _blank(chart_id, title, empty, Table(["阶段", "数量"], []))
    width, row, label_w = 680.0, 44, 120.0
    area = width - label_w - 20
    first = stages[0][1] if stages else 0
    body, rows = [], []
    for i, (label, count) in enumerate(stages):
        share = count / first if first else 0.0
        bar = max(2.0, area * share)
        y = 8 + i * row
        x = label_w + (area - bar) / 2
        caption = f"{count}（{share:.0%}）" if first else str(count)
        body.append(_text(label_w - 10, y + 22, label, anchor="end"))
        body.append(
            _mark(
                "rect",
                f"{label}：{caption}",
                x=round(x, 1),
                y=y,
                width=round(bar, 1),
                height=row - 10,
                fill=PALETTE[i % len(PALETTE)],
            )
        )
        body.append(_text(label_w + area / 2, y + 22, caption, anchor="middle", fill="#ffffff" if share > 0.3 else INK))
        previous = stages[i - 1][1] if i else count
        step = f"{count / previous:.0%}" if i and previous else "—"
        rows.append([label, str(count), f"{share:.0%}" if first else "—", step])
    height = 16 + max(1, len(stages)) * row
    table = Table(["阶段", "数量", "占申请数", "较上一阶段"], rows)
    return Chart(chart_id, title, description, _svg(chart_id, title, description, width, height, body), table)


def heatmap(
    chart_id: str,
    title: str,
    description: str,
    row_labels: Sequence[str],
    column_labels: Sequence[str],
    values: Sequence[Sequence[int]],
    empty: str = "区间内没有数据。",
) -> Chart:
    """A grid of counts, darker for more, with the count written in each non-empty cell."""
    if not any(v for row in values for v in row):
        return _blank(chart_id, title, empty, Table(["", *column_labels], []))
    label_w = max((text_width(label) for label in row_labels), default=0) + 14
    cell_w = max(64.0, text_width("一" * 7, 11) + 8)
    headings = [[label[k : k + 7] for k in range(0, len(label), 7)] or [""] for label in column_labels]
    head_h, cell_h = 14.0 * max((len(lines) for lines in headings), default=1) + 16, 26.0
    top_value = max((v for row in values for v in row), default=0)
    body = []
    for j, lines in enumerate(headings):
        for k, line in enumerate(lines):
            body.append(_text(label_w + cell_w * (j + 0.5), 14 + k * 14, line, anchor="middle", fill=MUTED, size=11))
    for i, label in enumerate(row_labels):
        y = head_h + i * cell_h
        body.append(_text(label_w - 8, y + 17, label, anchor="end"))
        for j, value in enumerate(values[i]):
            level = 0 if not value else min(len(HEAT) - 1, 1 + int((len(HEAT) - 2) * value / top_value))
            body.append(
                _mark(
                    "rect",
                    f"{label} × {column_labels[j]}：{value}",
                    x=round(label_w + cell_w * j, 1),
                    y=y,
                    width=round(cell_w - 2, 1),
                    height=cell_h - 2,
                    fill=HEAT[level],
                )
            )
            if value:
                colour = "#ffffff" if level >= 3 else INK
                body.append(_text(label_w + cell_w * (j + 0.5), y + 17, str(value), anchor="middle", fill=colour))
    width = label_w + cell_w * max(1, len(column_labels)) + 8
    height = head_h + cell_h * max(1, len(row_labels)) + 8
    table = Table(
        ["", *column_labels], [[label, *map(str, row)] for label, row in zip(row_labels, values, strict=True)]
    )
    return Chart(chart_id, title, description, _svg(chart_id, title, description, width, height, body), table)
