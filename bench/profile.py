"""Profile the engine under a workload: `python -m qunflow.bench.profile --members 100000`.

Needs pyinstrument, which is not a dependency of qunflow (install it beside it to profile). Writes
one text profile per phase into `--out` (default: `bench/profiles/`): the call tree, then the
functions by self time.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .journey import EngineJourney
from .measure import fresh_database

PHASES = ("park", "chat", "resume")


def _text(profiler: Any, **options: Any) -> str:
    # Without pyinstrument's "Profile at <absolute path>" line: the files are kept in the repository.
    text = profiler.output_text(unicode=True, time="percent_of_total", **options)
    return "\n".join(line for line in text.splitlines() if not line.startswith("Profile at "))


def _write(profiler: Any, path: Path, title: str) -> None:
    tree = _text(profiler)
    flat = _text(profiler, flat=True)
    path.write_text(
        f"{title}\n\n== call tree ==\n{tree}\n== self time by function (top 40) ==\n"
        + "\n".join(flat.splitlines()[:48])
        + "\n"
    )
    print(f"{title} -> {path}")


def _profiled(profiler_type: Any, action: Callable[[], Any]) -> Any:
    profiler = profiler_type(interval=0.001)
    profiler.start()
    try:
        action()
    finally:
        profiler.stop()
    return profiler


def profile_w(args: argparse.Namespace, profiler_type: Any, out: Path) -> None:
    wanted = args.phase or ["park", "resume"]
    with tempfile.TemporaryDirectory(prefix="qunflow-profile-") as workdir:
        with fresh_database(args.db, Path(workdir), "engine") as url:
            journey = EngineJourney(args.members, url)
            try:
                for phase in PHASES:
                    if phase not in wanted:
                        getattr(journey, phase)()
                        continue
                    profiler = _profiled(profiler_type, getattr(journey, phase))
                    name = f"w-{phase}-{args.members}-{'pg' if args.db else 'sqlite'}.txt"
                    _write(
                        profiler,
                        out / name,
                        f"W {phase}: {journey.seconds[phase]:.2f} s, {args.members} members",
                    )
                figures = journey.figures()
                print({k: figures[k] for k in ("park_per_s", "resume_per_s", "exactly_once")})
            finally:
                journey.close()


def profile_simulate30(args: argparse.Namespace, profiler_type: Any, out: Path) -> None:
    from .month import measure

    found: dict[str, Any] = {}
    profiler = _profiled(profiler_type, lambda: found.update(measure(args.members)))
    _write(
        profiler,
        out / f"simulate30-{args.members}.txt",
        f"simulate30: {found['seconds']:.2f} s, {args.members} members, {found['events']} events",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qunflow.bench.profile", description=__doc__)
    parser.add_argument("--workload", choices=("w", "simulate30"), default="w")
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--db", help="postgresql:// URL (default: SQLite in a temporary directory)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "profiles"))
    parser.add_argument("--phase", action="append", choices=PHASES, help="W phase to profile (repeatable)")
    args = parser.parse_args(argv)
    try:
        from pyinstrument import Profiler
    except ImportError:
        parser.error("pyinstrument is not installed: pip install pyinstrument")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.workload == "simulate30":
        profile_simulate30(args, Profiler, out)
    else:
        profile_w(args, Profiler, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
