from django.urls import path

from sandbox import views

urlpatterns = [
    path("runs/<uuid:run_id>/stop/", views.run_stop, name="run_stop"),
    path("runs/queue/<uuid:key>/cancel/", views.queue_cancel, name="queue_cancel"),
    path("labs/replicas/<slug:task_id>/kill/", views.lab_kill, name="lab_kill"),
    path("labs/rollback/", views.lab_rollback, name="lab_rollback"),
]
