"""/api/v1/auth: register, create, list and revoke API tokens."""

from flask import g

from subscribe.api import Blueprint
from subscribe.auth import services
from subscribe.auth.schemas import (
    RegisterSchema,
    TokenCreatedSchema,
    TokenCreateSchema,
    TokenSchema,
    UserSchema,
)

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Accounts and API tokens")


@blp.post("/register")
@blp.arguments(RegisterSchema)
@blp.response(201, UserSchema)
def register(body):
    """Create an account (role `user`)."""
    return services.create_user(body["email"], body["password"])


@blp.post("/tokens")
@blp.arguments(TokenCreateSchema)
@blp.response(201, TokenCreatedSchema)
def create_token(body):
    """Exchange e-mail and password for a named API token, shown once."""
    user = services.authenticate(body["email"], body["password"])
    token, plaintext = services.create_token(user, body["name"])
    return {"id": token.id, "name": token.name, "token": plaintext}


@blp.get("/tokens")
@blp.auth_required()
@blp.response(200, TokenSchema(many=True))
def list_tokens():
    """The caller's active tokens (never their secret part)."""
    return services.list_tokens(g.user)


@blp.delete("/tokens/<int:token_id>")
@blp.auth_required()
@blp.response(204)
def revoke_token(token_id: int):
    """Revoke one of the caller's tokens."""
    services.revoke_token(g.user, token_id)
