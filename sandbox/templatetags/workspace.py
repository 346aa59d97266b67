"""`{% work_files %}`: the terminal's file section (upload, download), with its limit."""

from django import template

from sandbox.api import workspace_files

register = template.Library()


@register.inclusion_tag("sandbox/workspace_files.html", takes_context=True)
def work_files(context) -> dict:
    return {
        "csrf_token": context.get("csrf_token"),
        "upload_bytes": workspace_files.upload_limit(),
        "upload_limit": workspace_files.human_size(workspace_files.upload_limit()),
    }
