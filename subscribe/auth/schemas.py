"""Request and response schemas for accounts and tokens."""

import marshmallow as ma

from subscribe.api import Schema


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
