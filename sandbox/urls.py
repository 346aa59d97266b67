from django.urls import path

from sandbox import views

urlpatterns = [
    path("runs/<uuid:run_id>/stop/", views.run_stop, name="run_stop"),
    path("runs/queue/<uuid:key>/cancel/", views.queue_cancel, name="queue_cancel"),
    path("labs/replicas/<slug:task_id>/kill/", views.lab_kill, name="lab_kill"),
    path("labs/rollback/", views.lab_rollback, name="lab_rollback"),
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
