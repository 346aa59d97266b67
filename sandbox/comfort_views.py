"""The terminal's comfort settings (글자 크기, 고대비, 화면 읽기 모드), kept per student on the
server so they follow the student to another computer; static/js/terminal_comfort.js applies
them and saves each change here."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_POST

from sandbox.models import TerminalPreferences


def preferences_of(user) -> dict:
    """What the terminal panel starts with (the defaults for someone who never chose)."""
    signed_in = user is not None and user.is_authenticated
    found = TerminalPreferences.objects.filter(owner=user).first() if signed_in else None
    found = found or TerminalPreferences()
    return {
        "font_size": found.font_size,
        "high_contrast": found.high_contrast,
        "screen_reader": found.screen_reader,
    }


def _flag(value: str | None, default: bool) -> bool:
    return default if value is None else value in ("1", "true", "on")


@require_POST
def terminal_preferences(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return HttpResponse(status=403)
    preferences, _ = TerminalPreferences.objects.get_or_create(owner=request.user)
    try:
        size = int(request.POST.get("font_size", preferences.font_size))
    except ValueError:
        return HttpResponse(status=400)
    # The nearest size offered: a tampered number is not an error, nor a 200-pixel font.
    preferences.font_size = min(TerminalPreferences.FONT_SIZES, key=lambda s: abs(s - size))
    preferences.high_contrast = _flag(request.POST.get("high_contrast"), preferences.high_contrast)
    preferences.screen_reader = _flag(request.POST.get("screen_reader"), preferences.screen_reader)
    preferences.save()
    return JsonResponse(preferences_of(request.user))
