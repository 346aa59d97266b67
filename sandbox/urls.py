from django.urls import path

from sandbox import views

urlpatterns = [
    path("runs/<uuid:run_id>/stop/", views.run_stop, name="run_stop"),
]
