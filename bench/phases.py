"""W up to a phase, for counting instructions: `python -m qunflow.bench.phases N engine|baseline PHASE`.

Wall and CPU time swing by a third from run to run on a shared 2-core machine; instruction counts do
not. Run this under valgrind's callgrind for each phase and subtract: the difference between stopping
after `resume` and after `chat`, divided by N, is what resuming one journey costs, and the same for
the baseline gives a ratio that does not depend on the machine's mood:

    valgrind --tool=callgrind --callgrind-out-file=/dev/null python -m qunflow.bench.phases 1000 engine chat
    valgrind --tool=callgrind --callgrind-out-file=/dev/null python -m qunflow.bench.phases 1000 engine resume

Instruction counts miss what the kernel does (file writes) and cache misses, so they guide work on
the hot path; the figures of record stay those of `qunflow bench`.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .baseline import Baseline
from .journey import EngineJourney

PHASES = ("setup", "park", "chat", "resume")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qunflow.bench.phases", description=__doc__)
    parser.add_argument("members", type=int)
    parser.add_argument("side", choices=("engine", "baseline"))
    parser.add_argument("phase", choices=PHASES, help="the last phase to run")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="qunflow-phases-") as workdir:
        if args.side == "engine":
            journey: EngineJourney | Baseline = EngineJourney(args.members, f"sqlite:///{workdir}/w.db")
        else:
            journey = Baseline(args.members, str(Path(workdir) / "w.db"))
        for phase in PHASES[1 : PHASES.index(args.phase) + 1]:
            getattr(journey, phase)()
        if args.side == "baseline":
            journey.close()  # type: ignore[union-attr]
        else:
            journey.store.close()  # type: ignore[union-attr]
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
