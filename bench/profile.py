"""Profile W's phases through the engine: `python -m bench.profile --members 100000`.

Needs pyinstrument, which is not a dependency of qunflow (install it beside it to profile). Writes
one text profile per phase into `--out` (default: `bench/profiles/`).
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .journey import EngineJourney
from .measure import fresh_database

PHASES = ("park", "chat", "resume")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--db", help="postgresql:// URL (default: SQLite in a temporary directory)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "profiles"))
    parser.add_argument("--phase", action="append", choices=PHASES, help="phase to profile (repeatable)")
    args = parser.parse_args(argv)
    try:
        from pyinstrument import Profiler
    except ImportError:
        parser.error("pyinstrument is not installed: pip install pyinstrument")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    wanted = args.phase or ["park", "resume"]
    with tempfile.TemporaryDirectory(prefix="qunflow-profile-") as workdir:
        with fresh_database(args.db, Path(workdir), "engine") as url:
            journey = EngineJourney(args.members, url)
            try:
                for phase in PHASES:
                    profiler = Profiler(interval=0.001) if phase in wanted else None
                    if profiler:
                        profiler.start()
                    getattr(journey, phase)()
                    if profiler:
                        profiler.stop()
                        name = f"w-{phase}-{args.members}-{'pg' if args.db else 'sqlite'}.txt"
                        tree = profiler.output_text(unicode=True, time="percent_of_total")
                        flat = profiler.output_text(unicode=True, flat=True, time="percent_of_total")
                        (out / name).write_text(
                            f"{phase}: {journey.seconds[phase]:.2f} s for {args.members} members\n\n"
                            f"== call tree ==\n{tree}\n== self time by function (top 40) ==\n"
                            + "\n".join(flat.splitlines()[:48])
                            + "\n"
                        )
                        print(f"{phase}: {journey.seconds[phase]:.2f} s -> {out / name}")
                figures = journey.figures()
                print({k: figures[k] for k in ("park_per_s", "resume_per_s", "exactly_once")})
            finally:
                journey.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
