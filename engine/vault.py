"""The secret key that seals secrets at rest (DESIGN §19), and the app's own sealed secrets.

The key is a Fernet key from `QUNFLOW_SECRET_KEY`, or else from the key file `qunflow.key`, made on
first start with mode 0600 beside the SQLite database (in the working directory for PostgreSQL).
Several processes sharing one PostgreSQL database need the same key: set `QUNFLOW_SECRET_KEY`.
A sealed value is text `fernet:<token>`; nothing here ever logs a secret or a key.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import select, update
from sqlalchemy.engine import make_url

from .errors import UserError

if TYPE_CHECKING:
    from .store import Store

KEY_ENV = "QUNFLOW_SECRET_KEY"
KEY_FILE = "qunflow.key"
SEALED = "fernet:"


class SecretUnreadable(UserError):
    """A stored secret cannot be decrypted with this key (another QUNFLOW_SECRET_KEY or key file
    sealed it)."""


class Vault:
    """Seals and opens secrets with one Fernet key."""

    def __init__(self, key: bytes | str) -> None:
        try:
            self._fernet = Fernet(key)
        except (ValueError, TypeError):
            raise UserError(
                f"{KEY_ENV}: not a Fernet key (32 url-safe base64-encoded bytes; make one with "
                "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`)"
            ) from None

    @classmethod
    def for_database(cls, url: str, environ: Mapping[str, str] | None = None) -> Vault:
        """The key for the database at `url`: `QUNFLOW_SECRET_KEY`, else its key file (made if
        missing). An in-memory SQLite database, gone when the process ends, gets a key of its own."""
        environ = os.environ if environ is None else environ
        if environ.get(KEY_ENV):
            return cls(environ[KEY_ENV].strip())
        folder = key_folder(url)
        if folder is None:
            return cls(Fernet.generate_key())
        return cls(_key_file(folder / KEY_FILE))

    def seal(self, text: str) -> str:
        return SEALED + self._fernet.encrypt(text.encode()).decode()

    def open(self, sealed: str) -> str:
        if not is_sealed(sealed):
            raise SecretUnreadable("a stored secret is not sealed")
        try:
            return self._fernet.decrypt(sealed[len(SEALED) :].encode()).decode()
        except InvalidToken:
            raise SecretUnreadable() from None


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(SEALED)


def key_folder(url: str) -> Path | None:
    """Where the key file goes: beside a SQLite file, else the working directory; None in memory."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if not database or database == ":memory:" or database.startswith("file:"):
            return None
        return Path(database).resolve().parent
    return Path.cwd()


def _key_file(path: Path) -> bytes:
    """The key in `path`, written first (mode 0600) if there is none. Two processes starting at once
    agree on one key: it is written to a file of its own and linked into place, which only one wins."""
    if not path.exists():
        fresh = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        descriptor = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(descriptor, Fernet.generate_key() + b"\n")
        finally:
            os.close(descriptor)
        try:
            os.link(fresh, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        finally:
            fresh.unlink()
    try:
        return path.read_bytes().strip()
    except OSError as error:
        raise UserError(f"secret key file {path}: {error.strerror or error}") from None


def kept_secret(store: Store, vault: Vault, name: str, make: Callable[[], str]) -> str:
    """The app secret `name` (made with `make` the first time), kept sealed in `app_secrets`. One
    stored in plain text by an older version is sealed in place."""
    from .store.schema import app_secrets

    c = app_secrets.c
    with store.engine.connect() as conn:
        value = conn.execute(select(c.value).where(c.name == name)).scalar()
    if value is None:
        stmt = store._insert(app_secrets).on_conflict_do_nothing(index_elements=["name"])
        with store.transaction() as conn:
            conn.execute(stmt.values(name=name, value=vault.seal(make())))
            value = conn.execute(select(c.value).where(c.name == name)).scalar()
    if is_sealed(value):
        return vault.open(value)
    with store.transaction() as conn:
        conn.execute(
            update(app_secrets).where(c.name == name, c.value == value).values(value=vault.seal(value))
        )
    return value


__all__ = ["KEY_ENV", "KEY_FILE", "SecretUnreadable", "Vault", "is_sealed", "kept_secret", "key_folder"]
