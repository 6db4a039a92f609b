"""tools/build_map.py compact_path: d3's absolute paths as relative steps, the same points.

The statement page draws the committed map on every view (about a third of the page's bytes),
so the compact form must lose nothing: every point comes back to the tenth, however many steps
add up to it."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("build_map", ROOT / "tools" / "build_map.py")
assert _spec and _spec.loader
build_map = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build_map)

_TOKEN = re.compile(r"[MLlZz]|-?(?:\d+\.?\d*|\.\d+)")


def points(d: str) -> list[tuple[str, int, int] | str]:
    """The absolute points of a path of M, L, l and Z/z, in tenths."""
    found: list[tuple[str, int, int] | str] = []
    x = y = 0
    command, numbers = "", []
    for token in _TOKEN.findall(d):
        if token in "MLlZz":
            command, numbers = token, []
            if token in "Zz":
                found.append("Z")
            continue
        numbers.append(round(float(token) * 10))
        if len(numbers) == 2:
            dx, dy = numbers
            x, y = (x + dx, y + dy) if command == "l" else (dx, dy)
            found.append(("M" if command == "M" else "L", x, y))
            numbers = []
            if command == "M":
                command = "L"  # pairs after an M are absolute lines
    return found


def absolute(subpaths: list[list[tuple[int, int]]]) -> str:
    """A path as d3 writes it (geoPath().digits(1)): absolute, comma-separated, in tenths."""

    def number(n: int) -> str:
        return f"{n / 10:.1f}".removesuffix(".0")

    return "".join(
        "M" + "L".join(f"{number(x)},{number(y)}" for x, y in subpath) + "Z" for subpath in subpaths
    )


def subpaths_of(found: list[tuple[str, int, int] | str]) -> list[list[tuple[int, int]]]:
    subpaths: list[list[tuple[int, int]]] = []
    for point in found:
        if point == "Z":
            continue
        command, x, y = point
        if command == "M":
            subpaths.append([])
        subpaths[-1].append((x, y))
    return subpaths


COORDINATE = st.integers(min_value=-20_000, max_value=20_000)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.lists(st.tuples(COORDINATE, COORDINATE), min_size=2, max_size=40), min_size=1, max_size=4
    )
)
def test_the_compact_path_has_the_same_points(subpaths) -> None:
    d = absolute(subpaths)
    compact = build_map.compact_path(d)
    assert points(compact) == points(d)


def test_steps_are_written_shortest() -> None:
    assert build_map.compact_path("M479.3,547.3L479.6,551.9L475.5,554.9L480.5,554.9Z") == (
        "M479.3 547.3l.3 4.6-4.1 3 5 0z"
    )


def test_the_committed_map_is_compact_and_inside_its_box() -> None:
    drawing = json.loads((ROOT / "petition" / "statements" / "europe_map.json").read_text())
    paths = [*drawing["countries"].values(), *drawing["background"]]
    as_d3_writes_them = [absolute(subpaths_of(points(d))) for d in paths]
    assert [points(d) for d in as_d3_writes_them] == [points(d) for d in paths]
    assert sum(map(len, paths)) < 0.75 * sum(map(len, as_d3_writes_them))
    for d in paths:
        assert "L" not in d and "," not in d  # written by compact_path
        for point in points(d):
            if point != "Z":
                _, x, y = point
                assert (
                    -1 <= x / 10 <= drawing["width"] + 1 and -1 <= y / 10 <= drawing["height"] + 1
                )
