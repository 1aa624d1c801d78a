"""Reading hostile stylesheet text: the linear scanner (replay/css_urls.py) beside the
regular expression the Sanitizer used before, which looked for a url('s end from every url(.

For each input size, the median seconds of Sanitizer.css and of recorded_urls.absolute_css
(joining every URL to a base), and of the old pattern alone, on "url(" repeated (the worst
case) and on ordinary CSS. The old pattern is not run on larger inputs once it took over 1 s (it grows with the square).

    .venv/bin/python bench/css_urls_cost.py [--runs 3]
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from collections.abc import Callable

from sessionlens.replay.recorded_urls import absolute_css
from sessionlens.replay.sanitize import Sanitizer

OLD_PATTERN = re.compile(r"""url\(\s*(?P<q>['"]?)(?P<u>.*?)(?P=q)\s*\)""", re.I | re.S)
ORDINARY = ".card { background: url(img/card.png) no-repeat; color: #333; } "


def median_seconds(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    clean = Sanitizer(["https://viewer.example"])
    base = "https://shop.example/a/b/"
    old_gave_up = False
    print(f"{'input':>22} {'chars':>9} {'Sanitizer.css':>14} {'absolute_css':>13} {'old regex':>10}")
    for kb in (8, 16, 32, 256, 2048):
        for name, unit in (("url( repeated", "url("), ("ordinary CSS", ORDINARY)):
            text = (unit * (kb * 1024 // len(unit) + 1))[: kb * 1024]
            sanitize = median_seconds(lambda text=text: clean.css(text), args.runs)
            join = median_seconds(lambda text=text: absolute_css(text, base), args.runs)
            old = "-"
            if name == "ordinary CSS" or not old_gave_up:
                seconds = median_seconds(lambda text=text: OLD_PATTERN.sub("", text), 1)
                old = f"{seconds:.3f}"
                old_gave_up = old_gave_up or (name != "ordinary CSS" and seconds > 1)
            print(f"{name:>22} {len(text):>9} {sanitize:>14.3f} {join:>13.3f} {old:>10}")


if __name__ == "__main__":
    main()
