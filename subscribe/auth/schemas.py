"""Request and response schemas for accounts and tokens."""

import marshmallow as ma

from subscribe.api import Schema, page_schema
from subscribe.auth.preferences import LANGUAGES, is_zone


class TrimmedEmail(ma.fields.Email):
    """An e-mail address; surrounding spaces, common in pasted input, are dropped."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            value = value.strip()
        return super()._deserialize(value, attr, data, **kwargs)


class RegisterSchema(Schema):
    email = TrimmedEmail(required=True, validate=ma.validate.Length(max=320))
    password = ma.fields.String(
        required=True, load_only=True, validate=ma.validate.Length(min=8, max=256)
    )


class UserSchema(Schema):
    id = ma.fields.Integer()
    email = ma.fields.String()
    role = ma.fields.String()
    locale = ma.fields.String(
        allow_none=True,
        metadata={"description": "Chosen language (zh or en) for pages and e-mails; null: "
                  "not chosen (the lang cookie, else Chinese)."},
    )  # fmt: skip
    timezone = ma.fields.String(
        allow_none=True,
        metadata={"description": "Chosen IANA time zone for pages and e-mails; null: "
                  "SUBSCRIBE_DISPLAY_TIMEZONE."},
    )  # fmt: skip


def _zone(value: str | None) -> None:
    if value is not None and not is_zone(value):
        raise ma.ValidationError("Unknown time zone (use an IANA name like Asia/Shanghai).")


class PreferencesSchema(Schema):
    """PATCH /auth/me: either field may be left out; null goes back to the default."""

    locale = ma.fields.String(allow_none=True, validate=ma.validate.OneOf(LANGUAGES))
    timezone = ma.fields.String(allow_none=True, validate=[ma.validate.Length(max=64), _zone])


class TokenCreateSchema(Schema):
    email = TrimmedEmail(required=True, validate=ma.validate.Length(max=320))
    password = ma.fields.String(
        required=True, load_only=True, validate=ma.validate.Length(min=1, max=256)
    )
    name = ma.fields.String(load_default="api", validate=ma.validate.Length(min=1, max=100))


class TokenCreatedSchema(Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    token = ma.fields.String(metadata={"description": "Shown once; store it now."})


class TokenSchema(Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    prefix = ma.fields.String()
    created_at = ma.fields.DateTime()
    last_used_at = ma.fields.DateTime(allow_none=True)


TokenPageSchema = page_schema(TokenSchema, "TokenPage")


class LoginSchema(Schema):
    email = TrimmedEmail(required=True, validate=ma.validate.Length(max=320))
    password = ma.fields.String(
        required=True, load_only=True, validate=ma.validate.Length(min=1, max=256)
    )


class SessionSchema(Schema):
    id = ma.fields.Integer()
    email = ma.fields.String()
    role = ma.fields.String()
    csrf_token = ma.fields.String()
