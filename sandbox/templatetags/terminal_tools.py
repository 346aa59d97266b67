"""`{% terminal_tools %}`: the terminal's toolbar (연장, 글자 크기, 고대비, 화면 읽기 모드, the
leave-the-terminal shortcut), with the student's saved preferences."""

from django import template
from django.conf import settings

from sandbox.comfort_views import preferences_of
from sandbox.models import TerminalPreferences

register = template.Library()


@register.inclusion_tag("sandbox/terminal_tools.html", takes_context=True)
def terminal_tools(context) -> dict:
    request = context.get("request")
    user = getattr(request, "user", None)
    return {
        "preferences": preferences_of(user),
        "font_sizes": ",".join(str(size) for size in TerminalPreferences.FONT_SIZES),
        "lifetime_minutes": settings.SANDBOX_PLAYGROUND_SECONDS // 60,
        "extensions_per_day": settings.SANDBOX_PLAYGROUND_EXTENSIONS_PER_DAY,
    }
