"""Account services: registration, password checks, API tokens. Services commit."""

from __future__ import annotations

import hashlib
import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from subscribe.audit import services as audit
from subscribe.auth.models import ApiToken, User
from subscribe.errors import ConflictError, NotFoundError, UnauthorizedError
from subscribe.extensions import db
from subscribe.models_base import utcnow
from subscribe.paging import paginate

_hasher = PasswordHasher()  # Argon2id with the library's current recommended parameters
TOKEN_PREFIX = "sub_"


@cache
def _dummy_hash() -> str:
    """A real hash to verify against when the e-mail is unknown, so a login attempt takes
    the same time whether or not the account exists. Made on first use, not at import:
    hashing takes a fifth of a second, and every process imports this module."""
    return _hasher.hash("not a real password")


def normalize_email(email: str) -> str:
    return email.strip().lower()


def create_user(email: str, password: str, role: str = "user") -> User:
    email = normalize_email(email)
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        raise ConflictError("An account with this e-mail already exists.", {"email": ["taken"]})
    user = User(email=email, password_hash=_hasher.hash(password), role=role)
    db.session.add(user)
    db.session.commit()
    return user


def authenticate(email: str, password: str) -> User:
    user = db.session.scalar(select(User).where(User.email == normalize_email(email)))
    try:
        _hasher.verify(user.password_hash if user else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        user = None
    if user is None:
        raise UnauthorizedError("E-mail or password is wrong.")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
        db.session.commit()
    return user


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(user: User, name: str) -> tuple[ApiToken, str]:
    """Create a token; the plaintext is returned once and never stored."""
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user=user, name=name, token_hash=_hash_token(plaintext), prefix=plaintext[:10])
    db.session.add(token)
    db.session.flush()
    audit.record("token.create", "token", token.id, {"name": name, "prefix": token.prefix},
                 actor=user)  # fmt: skip
    db.session.commit()
    return token, plaintext


def user_for_token(plaintext: str) -> User | None:
    token = db.session.scalar(
        select(ApiToken).where(
            ApiToken.token_hash == _hash_token(plaintext), ApiToken.revoked_at.is_(None)
        )
    )
    if token is None:
        return None
    now = utcnow()
    # Write last-use at most once a minute: a busy client must not turn reads into writes.
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        token.last_used_at = now
        db.session.commit()
    return token.user


def list_tokens(user: User) -> list[ApiToken]:
    return list(db.session.scalars(_active_tokens(user)))


def tokens_page(user: User, page: int, per_page: int) -> dict:
    """One page of the user's active tokens, oldest first: {items, total, page, per_page}."""
    return paginate(_active_tokens(user), page, per_page)


def _active_tokens(user: User):
    return (
        select(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .order_by(ApiToken.id)
    )


def revoke_token(user: User, token_id: int) -> None:
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id or token.revoked_at is not None:
        raise NotFoundError("No such token.")
    token.revoked_at = utcnow()
    audit.record("token.revoke", "token", token.id, {"name": token.name, "prefix": token.prefix},
                 actor=user)  # fmt: skip
    db.session.commit()
