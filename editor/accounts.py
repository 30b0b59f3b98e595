"""Accounts: users with argon2 password hashes, API tokens and sessions stored only as SHA-256 digests.

Roles (DESIGN §11): `admin` (everything, users and tokens), `operator` (flows, members, publish),
`viewer` (read only) and `ingest` (token-only: `POST /api/events`). Nothing here ever hands back a
password hash or a token digest; a token or session id is seen once, when it is made.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Literal

import msgspec
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from qunflow.engine.errors import Conflict, NotFound, UserError
from qunflow.engine.store import Store
from qunflow.engine.store import schema as t

Role = Literal["admin", "operator", "viewer", "ingest"]
ROLES: tuple[str, ...] = ("admin", "operator", "viewer", "ingest")
# `ingest` is for machines: it has tokens but no password login.
USER_ROLES: tuple[str, ...] = ("admin", "operator", "viewer")
TOKEN_PREFIX = "qf_"
# Who an API token is when it makes a change: `token:<id>`, stable and unique whatever its label.
TOKEN_PRINCIPAL = "token:"
SESSION_LIFETIME_US = 7 * 24 * 3600 * 1_000_000

_hasher = PasswordHasher()
# Verified against when the user does not exist, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class User(msgspec.Struct, frozen=True):
    name: str
    role: str
    created_at: int


class TokenInfo(msgspec.Struct, frozen=True):
    id: int
    role: str
    label: str | None
    created_at: int


def token_principal(token_id: int) -> str:
    """The name an API token makes its changes under (`token:<id>`); pages show its label."""
    return f"{TOKEN_PRINCIPAL}{token_id}"


def principal_token(who: str) -> int | None:
    """The token id in a name made by :func:`token_principal`; None for a user's name."""
    number = who.removeprefix(TOKEN_PRINCIPAL)
    return int(number) if who.startswith(TOKEN_PRINCIPAL) and number.isdigit() else None


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _check_role(role: str, allowed: tuple[str, ...]) -> None:
    if role not in allowed:
        raise UserError(f"role: must be one of {', '.join(allowed)}, not `{role}`")


class Accounts:
    """Users, tokens, sessions and the app's signing key, on a :class:`Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- users ---------------------------------------------------------------------------------------

    def create_user(self, name: str, password: str, role: str, now: int) -> User:
        _check_role(role, USER_ROLES)
        if not name or len(name) > 100 or not name.isprintable():
            raise UserError("name: 1 to 100 printable characters")
        if len(password) < 8:
            raise UserError("password: at least 8 characters")
        try:
            with self.store.transaction() as conn:
                if conn.execute(select(t.users.c.name).where(t.users.c.name == name)).first():
                    raise Conflict(f"user `{name}` exists")
                conn.execute(
                    insert(t.users).values(
                        name=name, password_hash=_hasher.hash(password), role=role, created_at=now
                    )
                )
        except IntegrityError:  # made at the same moment in another transaction (PostgreSQL)
            raise Conflict(f"user `{name}` exists") from None
        return User(name, role, now)

    def set_password(self, name: str, password: str) -> None:
        """Give a user a new password; their sessions end (signed in elsewhere, they sign in again)."""
        if len(password) < 8:
            raise UserError("password: at least 8 characters")
        hashed = _hasher.hash(password)
        with self.store.transaction() as conn:
            if not conn.execute(
                update(t.users).where(t.users.c.name == name).values(password_hash=hashed)
            ).rowcount:
                raise NotFound(f"no user `{name}`")
            conn.execute(delete(t.sessions).where(t.sessions.c.user_name == name))

    def new_password(self, name: str) -> str:
        """Give a user a generated password (see `set_password`) and return it, to be shown once."""
        password = _generated_password()
        self.set_password(name, password)
        return password

    def delete_user(self, name: str) -> None:
        """Remove a user and end their sessions; the last admin stays (someone must be able to sign in
        and manage the others)."""
        u = t.users.c
        with self.store.transaction() as conn:
            role = conn.execute(select(u.role).where(u.name == name).with_for_update()).scalar()
            if role is None:
                raise NotFound(f"no user `{name}`")
            if role == "admin":
                admins = conn.execute(select(u.name).where(u.role == "admin").with_for_update()).all()
                if len(admins) == 1:
                    raise Conflict(f"`{name}` is the last admin: make another admin first")
            conn.execute(delete(t.sessions).where(t.sessions.c.user_name == name))
            conn.execute(delete(t.users).where(u.name == name))

    def users(self) -> list[User]:
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                select(t.users.c.name, t.users.c.role, t.users.c.created_at).order_by(t.users.c.name)
            )
            return [User(n, r, c) for n, r, c in rows]

    def get_user(self, name: str) -> User | None:
        with self.store.engine.connect() as conn:
            row = conn.execute(
                select(t.users.c.name, t.users.c.role, t.users.c.created_at).where(t.users.c.name == name)
            ).first()
        return User(*row) if row else None

    def authenticate(self, name: str, password: str) -> User | None:
        """The user if the password is right; None otherwise (same cost for an unknown name)."""
        with self.store.engine.connect() as conn:
            row = conn.execute(select(t.users).where(t.users.c.name == name)).first()
        try:
            _hasher.verify(row.password_hash if row else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            return None
        return User(row.name, row.role, row.created_at) if row else None

    def ensure_admin(self, password: str | None, now: int) -> str | None:
        """Create user `admin` when there is no user yet; returns the generated password, if one was."""
        with self.store.engine.connect() as conn:
            if conn.execute(select(t.users.c.name).limit(1)).first():
                return None
        generated = None if password else _generated_password()
        try:
            self.create_user("admin", password or generated or "", "admin", now)
        except Conflict:  # another process made it first
            return None
        return generated

    # -- API tokens ----------------------------------------------------------------------------------

    def create_token(self, role: str, now: int, label: str | None = None) -> tuple[TokenInfo, str]:
        """A new token: its record, and the token itself (shown this once; only its digest is kept)."""
        _check_role(role, ROLES)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.store.transaction() as conn:
            token_id = self.store.allocate(conn, "api_tokens", 1)
            conn.execute(
                insert(t.api_tokens).values(
                    id=token_id, digest=digest(token), role=role, label=label, created_at=now
                )
            )
        return TokenInfo(token_id, role, label, now), token

    def tokens(self) -> list[TokenInfo]:
        c = t.api_tokens.c
        with self.store.engine.connect() as conn:
            rows = conn.execute(select(c.id, c.role, c.label, c.created_at).order_by(c.id))
            return [TokenInfo(*row) for row in rows]

    def revoke_token(self, token_id: int) -> None:
        with self.store.transaction() as conn:
            if not conn.execute(delete(t.api_tokens).where(t.api_tokens.c.id == token_id)).rowcount:
                raise NotFound(f"no token {token_id}")

    def token_role(self, token: str) -> tuple[int, str] | None:
        """(token id, role) of a valid token."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        c = t.api_tokens.c
        with self.store.engine.connect() as conn:
            row = conn.execute(select(c.id, c.role).where(c.digest == digest(token))).first()
        return (row[0], row[1]) if row else None

    # -- sessions ------------------------------------------------------------------------------------

    def open_session(self, user: str, now: int) -> str:
        """A new session id for the cookie; the store keeps its digest."""
        session_id = secrets.token_urlsafe(32)
        with self.store.transaction() as conn:
            conn.execute(delete(t.sessions).where(t.sessions.c.expires_at < now))
            conn.execute(
                insert(t.sessions).values(
                    digest=digest(session_id),
                    user_name=user,
                    created_at=now,
                    expires_at=now + SESSION_LIFETIME_US,
                )
            )
        return session_id

    def session_user(self, session_id: str, now: int) -> User | None:
        s, u = t.sessions.c, t.users.c
        with self.store.engine.connect() as conn:
            row = conn.execute(
                select(u.name, u.role, u.created_at)
                .join_from(t.sessions, t.users, s.user_name == u.name)
                .where(s.digest == digest(session_id), s.expires_at > now)
            ).first()
        return User(*row) if row else None

    def close_session(self, session_id: str) -> None:
        with self.store.transaction() as conn:
            conn.execute(delete(t.sessions).where(t.sessions.c.digest == digest(session_id)))


__all__ = ["ROLES", "USER_ROLES", "Accounts", "Role", "TokenInfo", "User", "digest"]


def _generated_password() -> str:
    return secrets.token_urlsafe(12)
