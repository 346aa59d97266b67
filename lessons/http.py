"""The request a signed-in view gets, as the middlewares make it, for the type checker: a
`User` (login_required turned the anonymous away) and django-htmx's `request.htmx` (typed the
way django-htmx documents)."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class SignedInRequest(HttpRequest):
    user: User  # narrower than HttpRequest's: signed in
    htmx: HtmxDetails
