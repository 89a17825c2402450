"""Every regular expression on the hot path against pathological input: seconds and growth.

The patterns are the module-level compiled patterns of the tagging package, of
transforms/normalise.py and of the ingest modules that read each response, feed, page and
byline, site profiles included (imported, never copied: a module's patterns are found by
type, so a new one is measured without editing this file). A pattern the code only ever
applies with .match or .fullmatch (read from the source) is timed that way, from the start
of the input; every other is scanned from every position (finditer), which is what search,
sub, split and findall do on text they do not match.

The inputs are built to make a backtracking engine read the same text again and again: a
run of capitals, a long word, a long line without spaces, alternating case, capitals joined
by hyphens, capitalised words, initials ("A. A. A."), repeated punctuation, a run of
spaces, blank lines, digits, date-like and path-like runs, angle brackets. Each is timed at
two sizes (256 and 512 KB by default; a pattern on bytes gets the input encoded), the best
of two runs; growth is the time at the larger size over the time at the smaller: about 2
for linear time, 4 for quadratic. A growth at --max-ratio or more is measured again (best
of five) before it counts.

So that a super-linear pattern cannot stall the run, each is first timed at smaller sizes,
doubling from 1 KB: once a size takes longer than --cell
seconds the larger ones are not run, and growth is read from the last two sizes timed.
Each pattern runs in a child process, killed when one call takes longer than --timeout
seconds. Under --floor milliseconds at the larger size, growth is not judged: too short to
tell from noise, and too short to matter.

    .venv/bin/python benchmarks/patterns.py [--sizes 256,512] [--max-ratio 3] [--only NAME]

Not a test: it exits 0 whatever it finds, unless --strict is given.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import io
import multiprocessing
import pkgutil
import re
import sys
import time
import tokenize
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# the modules whose patterns run on every article, page, feed or response
MODULES = (
    "transforms.tagging.entities",
    "transforms.tagging.keywords",
    "transforms.tagging.tokens",
    "transforms.tagging.topics",
    "transforms.normalise",
    "ingest.config",
    "ingest.discover.feeds",
    "ingest.extract.article_body",
    "ingest.extract.authors",
    "ingest.extract.bylines",
    "ingest.extract.dates",
    "ingest.extract.decode",
    "ingest.extract.page",
    "ingest.extract.page_type",
    "ingest.extract.titles",
    "ingest.fetch.netguard",
    "ingest.fetch.xmlguard",
)
PROFILES = "ingest.extract.profiles"  # and every site profile in it
# input name -> the unit repeated to the input's size
INPUTS = {
    "capitals": "A",
    "long word": "a",
    "line without spaces": "ab1_cd2.ef3/",
    "alternating case": "aA",
    "hyphenated capitals": "A-",
    "capitalised words": "Aa ",
    "initials": "A. ",
    "punctuation": "?!,;:-.",
    "spaces": " ",
    "blank lines": "\n \n",
    "digits": "1",
    "date-like": "12/",
    "path-like": "/a",
    "angle brackets": "<",
}
ANCHORED = ("match", "fullmatch")


@dataclass
class Pattern:
    name: str  # module.attribute
    pattern: re.Pattern[Any]
    mode: str  # finditer, match or fullmatch


@dataclass
class Cell:
    """One pattern on one input: seconds per size (KB), and why larger sizes were not run."""

    times: dict[int, float] = field(default_factory=dict)
    stopped: str = ""
    killed: bool = False  # a call took longer than --timeout

    def growth(self, floor_s: float) -> tuple[int, int, float] | None:
        """(smaller KB, larger KB, time ratio) of the two largest sizes timed; None when fewer
        than two were, or when the larger took under `floor_s` (too fast to judge)."""
        sizes = sorted(self.times)
        if len(sizes) < 2 or self.times[sizes[-1]] < floor_s:
            return None
        small, large = sizes[-2:]
        return small, large, self.times[large] / max(self.times[small], 1e-9)


def hot_path_patterns() -> list[Pattern]:
    """The compiled patterns of MODULES and of the site profiles (each once), with how the
    code applies them."""
    names = list(MODULES)
    profiles = importlib.import_module(PROFILES)
    names += [f"{PROFILES}.{m.name}" for m in pkgutil.iter_modules(profiles.__path__)]
    sources = {n: inspect.getsource(importlib.import_module(n)) for n in names}
    everywhere = "\n".join(sources.values())
    found: dict[int, Pattern] = {}
    for module_name in names:
        for attribute, value in vars(importlib.import_module(module_name)).items():
            if isinstance(value, re.Pattern) and id(value) not in found:
                # a private name is used in its own module only
                where = sources[module_name] if attribute.startswith("_") else everywhere
                name = f"{module_name}.{attribute}"
                found[id(value)] = Pattern(name, value, applied_with(attribute, where))
    return list(found.values())


def applied_with(attribute: str, source: str) -> str:
    """fullmatch or match when every use of the name in the code of `source` (strings and
    comments aside) is `NAME.fullmatch(`, or every one is `NAME.match(`; finditer otherwise."""
    skip = (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.STRING)
    tokens = [
        t for t in tokenize.generate_tokens(io.StringIO(source).readline) if t.type not in skip
    ]
    uses = set()
    for i, token in enumerate(tokens):
        if token.type != tokenize.NAME or token.string != attribute:
            continue
        after = [t.string for t in tokens[i + 1 : i + 4]] + ["", "", ""]
        if after[0] == "=" or (i > 0 and tokens[i - 1].string == "."):
            continue  # its definition, or another object's attribute of that name
        method = after[1] if after[0] == "." and after[2] == "(" else ""
        uses.add(method if method in ANCHORED else "finditer")
    return uses.pop() if len(uses) == 1 else "finditer"


def make_input(unit: str, kb: int, binary: bool) -> str | bytes:
    text = (unit * (kb * 1024 // len(unit) + 1))[: kb * 1024]
    return text.encode("utf-8") if binary else text


def time_once(pattern: Pattern, data: str | bytes) -> float:
    """Seconds for one application of the pattern to `data`, as the code applies it."""
    compiled: Any = pattern.pattern
    started = time.perf_counter()
    if pattern.mode == "match":
        compiled.match(data)
    elif pattern.mode == "fullmatch":
        compiled.fullmatch(data)
    else:
        for _ in compiled.finditer(data):
            pass
    return time.perf_counter() - started


def best_of(runs: int, pattern: Pattern, data: str | bytes) -> float:
    return min(time_once(pattern, data) for _ in range(runs))


def ladder(small: int, large: int) -> list[int]:
    """KB sizes doubling from 1 up to `small`, then `large`."""
    sizes = [1]
    while sizes[-1] * 2 < small:
        sizes.append(sizes[-1] * 2)
    return [*sizes, small, large]


def child(pattern: Pattern, inputs: list[str], args: argparse.Namespace, out: Connection) -> None:
    """Times `pattern` on each input up the ladder of sizes, sending (input, KB, None) before
    each call, (input, KB, seconds) after it and (input, None, None) when the input is done."""
    binary = isinstance(pattern.pattern.pattern, bytes)
    sizes = ladder(*args.sizes)
    targets = sizes[-2:]
    for name in inputs:
        times: dict[int, float] = {}
        for kb in sizes:
            data = make_input(INPUTS[name], kb, binary)
            out.send((name, kb, None))
            times[kb] = best_of(2 if kb in targets else 1, pattern, data)
            out.send((name, kb, times[kb]))
            if times[kb] > args.cell:
                break
        small, large = targets
        counts = large in times and times[large] >= args.floor / 1000
        if counts and times[large] / max(times[small], 1e-9) >= args.max_ratio:
            for kb in targets:  # noise, or not?
                out.send((name, kb, None))
                out.send((name, kb, best_of(5, pattern, make_input(INPUTS[name], kb, binary))))
        out.send((name, None, None))
    out.close()


def run_pattern(pattern: Pattern, args: argparse.Namespace) -> dict[str, Cell]:
    """The cells of one pattern. Its inputs run in a child process; one that takes longer
    than --timeout seconds in a call is killed, and the inputs left go to a new child."""
    cells = {name: Cell() for name in INPUTS}
    todo = list(INPUTS)
    context = multiprocessing.get_context("fork")
    while todo:
        receive, send = context.Pipe(duplex=False)
        process = context.Process(target=child, args=(pattern, todo, args, send))
        process.start()
        send.close()
        running: tuple[str, int] | None = None
        while todo:
            if not receive.poll(args.timeout):
                process.kill()
                if running is not None:
                    name, kb = running
                    cells[name].stopped = f"killed after {args.timeout:g} s at {kb} KB"
                    cells[name].killed = True
                    todo = todo[todo.index(name) + 1 :]
                break
            try:
                name, kb, seconds = receive.recv()
            except EOFError:  # the child died: nothing more to learn from it
                todo = []
                break
            if kb is None:
                todo = todo[todo.index(name) + 1 :]
            elif seconds is None:
                running = (name, kb)
            else:
                cells[name].times[kb] = seconds
                if seconds > args.cell and kb != args.sizes[1]:
                    cells[name].stopped = f"larger sizes not run (over {args.cell:g} s at {kb} KB)"
        process.join()
        receive.close()
    return cells


def report(pattern: Pattern, cells: dict[str, Cell], args: argparse.Namespace) -> list[str]:
    """Prints the pattern's table; returns its cells whose growth reaches --max-ratio."""
    print(f"\n{pattern.name} ({pattern.mode})")
    width = max(len(name) for name in INPUTS)
    over, fast = [], []
    for name, cell in cells.items():
        judged = cell.growth(args.floor / 1000)
        if judged is None and not cell.stopped:
            fast.append(name)
            continue
        if judged is None:
            print(f"  {name:<{width}}  {cell.stopped}")
            over.append(f"{pattern.name} on {name}: {cell.stopped}")
            continue
        small, large, ratio = judged
        notes = [cell.stopped] if cell.stopped else []
        if ratio >= args.max_ratio or cell.killed:
            notes.insert(0, "<-- super-linear")
            over.append(f"{pattern.name} on {name}: x{ratio:.1f} from {small} to {large} KB")
        line = (
            f"  {name:<{width}}  {small:>4} KB {cell.times[small]:>8.4f} s  "
            f"{large:>4} KB {cell.times[large]:>8.4f} s  x{ratio:.2f}  {'; '.join(notes)}"
        )
        print(line.rstrip())
    if fast:
        print(f"  under {args.floor:g} ms at {args.sizes[1]} KB: {', '.join(fast)}")
    return over


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="256,512", help="the two sizes in KB (256,512)")
    parser.add_argument("--max-ratio", type=float, default=3.0, help="growth that counts (3)")
    parser.add_argument(
        "--cell",
        type=float,
        default=0.5,
        help="seconds at a size after which larger ones are not run (0.5)",
    )
    parser.add_argument(
        "--timeout", type=float, default=10.0, help="seconds after which a call is killed (10)"
    )
    parser.add_argument(
        "--floor", type=float, default=2.0, help="ms under which growth is not judged (2)"
    )
    parser.add_argument("--only", default="", help="only the patterns whose name contains this")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a growth counts")
    args = parser.parse_args()
    args.sizes = tuple(int(s) for s in args.sizes.split(","))
    patterns = [p for p in hot_path_patterns() if args.only in p.name]
    started = time.perf_counter()
    small, large = args.sizes
    print(
        f"{len(patterns)} patterns x {len(INPUTS)} inputs at {small} and {large} KB: seconds "
        f"and growth (time at {large} KB / time at {small} KB; linear is about 2, quadratic 4)"
    )
    over: dict[str, list[str]] = {}
    for pattern in patterns:
        area = pattern.name.split(".")[0]
        over.setdefault(area, []).extend(report(pattern, run_pattern(pattern, args), args))
    print(f"\n{len(patterns)} patterns in {time.perf_counter() - started:.0f} s")
    for area, items in over.items():
        print(f"{area}: {'super-linear: ' + str(len(items)) if items else 'all linear'}")
        for item in items:
            print(f"  {item}")
    bad = sum(len(items) for items in over.values())
    verdict = "yes" if not bad else f"NO ({bad} over)"
    print(f"every growth ratio below {args.max_ratio:g}: {verdict}")
    return 1 if bad and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
