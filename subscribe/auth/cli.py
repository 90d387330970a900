"""`flask users …`: account administration for operators."""

import click
from flask.cli import AppGroup

from subscribe import cli_input
from subscribe.auth import services
from subscribe.auth.schemas import RegisterSchema
from subscribe.errors import ConflictError

users_cli = AppGroup("users", help="Manage user accounts.")


@users_cli.command("create")
@click.argument("email")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--operator", is_flag=True, help="Give the operator role.")
def create_user(email: str, password: str, operator: bool) -> None:
    """Create a user account."""
    if len(password) < 8:
        raise click.BadParameter("must be at least 8 characters", param_hint="--password")
    # The checks of POST /api/v1/auth/register: a real address, a sane length.
    values = cli_input.load(RegisterSchema(), {"email": email, "password": password})
    try:
        user = services.create_user(values["email"], password, "operator" if operator else "user")
    except ConflictError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"created {user.role} {user.email} (id {user.id})")
