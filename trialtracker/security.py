"""Security helpers: the client address behind proxies (lockout) and a sign-in form that refuses runaway input."""

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError


def client_ip(request) -> str | None:
    """The address lockout counts: the client's, not the load balancer's.

    With TRUSTED_PROXY_COUNT = n, each of our n proxies appended the address it saw to
    X-Forwarded-For, so the client is the n-th entry from the right. Entries further left were
    written by the client and can be forged, so they are never used. With no proxies configured,
    or a request that did not pass through all of them, REMOTE_ADDR is the only address trusted.
    """
    count = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    remote = request.META.get("REMOTE_ADDR")
    if count <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if len(forwarded) < count:
        return remote
    return forwarded[-count]


class LoginForm(AuthenticationForm):
    """Django's sign-in form, refusing an over-long username before anything is looked up.

    AuthenticationForm sets the username's max_length after the field is built, so no length
    validator runs: a 5,000-character username reached authenticate(), and the lockout record
    (a 255-character column) failed on PostgreSQL with a 500.
    """

    def clean_username(self):
        username = self.cleaned_data.get("username") or ""
        if len(username) > self.fields["username"].max_length:
            raise ValidationError(self.error_messages["invalid_login"], code="invalid_login", params=self._params())
        return username

    def _params(self):
        return {"username": self.username_field.verbose_name}


class BoundedModelMultipleChoiceField(forms.ModelMultipleChoiceField):
    """A multiple choice of rows that refuses an id outside the database's integer range.

    Django checks the chosen ids with an `id__in` query, which crashes on SQLite (OverflowError,
    a 500) for an id of 2**63 or more that a tampered form can send.
    """

    def _check_values(self, value):
        for pk in value:
            try:
                in_range = 0 < int(str(pk)) < 2**63
            except (TypeError, ValueError):
                in_range = False
            if not in_range:
                raise ValidationError(
                    self.error_messages["invalid_pk_value"], code="invalid_pk_value", params={"pk": pk}
                )
        return super()._check_values(value)
