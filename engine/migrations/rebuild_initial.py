"""Regenerate the initial migration from `engine/store/schema.py` (before the first release only).

    python -m qunflow.engine.migrations.rebuild_initial

Once a release has shipped, schema changes get their own migration instead.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine

HERE = Path(__file__).resolve().parent


def main() -> None:
    for old in (HERE / "versions").glob("0001_*.py"):
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite:///{tmp}/empty.db")
        config = Config()
        config.set_main_option("script_location", str(HERE))
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.revision(config, message="initial schema", autogenerate=True, rev_id="0001")
        engine.dispose()


if __name__ == "__main__":
    main()
