"""/api/v1/auth: register, create, list and revoke API tokens."""

from flask import current_app, g

from subscribe.api import Blueprint, PageArgsSchema
from subscribe.auth import preferences, services
from subscribe.auth.schemas import (
    LoginSchema,
    PreferencesSchema,
    RegisterSchema,
    SessionSchema,
    TokenCreatedSchema,
    TokenCreateSchema,
    TokenPageSchema,
    UserSchema,
)
from subscribe.auth.sessions import end_session, start_session
from subscribe.extensions import limiter

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Accounts and API tokens")


def _limit(setting: str):
    """A rate limit read from the config when the request comes (so tests can set it)."""
    return limiter.limit(lambda: current_app.config[setting])


@blp.post("/register")
@_limit("SUBSCRIBE_LIMIT_REGISTER")
@blp.arguments(RegisterSchema)
@blp.response(201, UserSchema)
def register(body):
    """Create an account (role `user`)."""
    return services.create_user(body["email"], body["password"])


@blp.post("/tokens")
@_limit("SUBSCRIBE_LIMIT_TOKENS")
@blp.arguments(TokenCreateSchema)
@blp.response(201, TokenCreatedSchema)
def create_token(body):
    """Exchange e-mail and password for a named API token, shown once."""
    user = services.authenticate(body["email"], body["password"])
    token, plaintext = services.create_token(user, body["name"])
    return {"id": token.id, "name": token.name, "token": plaintext}


@blp.get("/tokens")
@blp.auth_required()
@blp.arguments(PageArgsSchema, location="query", error_status_code=400)
@blp.response(200, TokenPageSchema)
def list_tokens(args):
    """The caller's active tokens, oldest first (never their secret part): one page
    ({items, total, page, per_page}, like every list)."""
    return services.tokens_page(g.user, args["page"], args["per_page"])


@blp.delete("/tokens/<int:token_id>")
@blp.auth_required()
@blp.response(204)
def revoke_token(token_id: int):
    """Revoke one of the caller's tokens."""
    services.revoke_token(g.user, token_id)


@blp.post("/login")
@_limit("SUBSCRIBE_LIMIT_LOGIN")
@blp.arguments(LoginSchema)
@blp.response(200, SessionSchema)
def login(body):
    """Start a browser session (cookie). Unsafe requests made with the session must send
    the returned `csrf_token` in an `X-CSRF-Token` header."""
    user = services.authenticate(body["email"], body["password"])
    csrf = start_session(user)
    return {"id": user.id, "email": user.email, "role": user.role, "csrf_token": csrf}


@blp.post("/logout")
@blp.response(204)
def logout():
    """End the browser session."""
    end_session()


@blp.get("/me")
@blp.auth_required()
@blp.response(200, UserSchema)
def me():
    """Who the token or session belongs to, with their language and time zone."""
    return g.user


@blp.patch("/me")
@blp.auth_required()
@blp.arguments(PreferencesSchema)
@blp.response(200, UserSchema)
def update_me(body):
    """Choose the language (`zh`, `en`) and time zone (IANA) used by pages and e-mails;
    null clears a choice. 422 for another language or an unknown zone."""
    return preferences.save(g.user, body)
