"""The request of a view that reads `request.htmx` (django-htmx's middleware sets it), as a type."""

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails
