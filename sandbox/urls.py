from django.urls import path

from sandbox import comfort_views, views, workspace_views

urlpatterns = [
    path("runs/<uuid:run_id>/stop/", views.run_stop, name="run_stop"),
    path("runs/queue/<uuid:key>/cancel/", views.queue_cancel, name="queue_cancel"),
    path("labs/replicas/<slug:task_id>/kill/", views.lab_kill, name="lab_kill"),
    path("labs/rollback/", views.lab_rollback, name="lab_rollback"),
    path("terminal/workspace/", workspace_views.workspace_keep, name="workspace_keep"),
    path("terminal/workspace/reset/", workspace_views.workspace_reset, name="workspace_reset"),
    path("terminal/last-session/", workspace_views.last_session, name="last_session"),
    path(
        "terminal/preferences/",
        comfort_views.terminal_preferences,
        name="terminal_preferences",
    ),
    path("terminal/files/", views.workspace_list, name="workspace_list"),
    path("terminal/files/upload/", views.workspace_upload, name="workspace_upload"),
    path("terminal/files/download/", views.workspace_download, name="workspace_download"),
    path(
        "terminal/files/work.tar.gz",
        views.workspace_download,
        {"archive": True},
        name="workspace_archive",
    ),
]
