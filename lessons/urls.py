from django.urls import path

from lessons import views

urlpatterns = [
    path("", views.course, name="course"),
    path("lessons/<slug:slug>/", views.lesson_detail, name="lesson_detail"),
    path(
        "lessons/<slug:slug>/exercises/<slug:exercise_id>/run/",
        views.exercise_run,
        name="exercise_run",
    ),
    path(
        "lessons/<slug:slug>/questions/<slug:question_id>/answer/",
        views.question_answer,
        name="question_answer",
    ),
    path("lessons/<slug:slug>/checks/<slug:check_id>/", views.check_run, name="check_run"),
    path("highlight.css", views.highlight_css, name="highlight_css"),
    path("accounts/signup/", views.signup, name="signup"),
]

from lessons import (  # noqa: E402
    build_views,
    class_docker_views,
    class_extend_views,
    class_kube_views,
    class_views,
    lab_views,
    warm_views,
    workspace_views,
)

LAB = "lessons/<slug:slug>/labs/<slug:lab_id>/"
urlpatterns += [
    path(f"{LAB}apply/", lab_views.lab_apply, name="lab_apply"),
    path(f"{LAB}balance/", lab_views.lab_balance, name="lab_balance"),
    path(f"{LAB}verify/", lab_views.lab_verify, name="lab_verify"),
    path(
        "lessons/<slug:slug>/builds/<slug:block_id>/", build_views.build_start, name="build_start"
    ),
    path(
        "lessons/<slug:slug>/builds/<slug:block_id>/tag/", build_views.build_tag, name="build_tag"
    ),
    path(
        "lessons/<slug:slug>/builds/<slug:block_id>/run/", build_views.build_run, name="build_run"
    ),
    path(
        "lessons/<slug:slug>/builds/<slug:block_id>/variants/<slug:name>/",
        build_views.build_variant,
        name="build_variant",
    ),
    path("classes/", class_views.classes, name="classes"),
    path("classes/new/", class_views.class_create, name="class_create"),
    path("classes/join/", class_views.class_join, name="class_join"),
    path("classes/<int:pk>/", class_views.class_dashboard, name="class_dashboard"),
    path("classes/<int:pk>/lessons/<slug:slug>/", class_views.class_lesson, name="class_lesson"),
    path(
        "classes/<int:pk>/attempts/<int:attempt_id>/",
        class_views.class_attempt,
        name="class_attempt",
    ),
    path("classes/<int:pk>/code/", class_views.class_rotate_code, name="class_rotate_code"),
    path(
        "classes/<int:pk>/terminals/<uuid:playground_id>/",
        class_views.class_terminal,
        name="class_terminal",
    ),
    path(
        "classes/<int:pk>/instructors/",
        class_views.class_add_instructor,
        name="class_add_instructor",
    ),
    path("classes/<int:pk>/export.csv", class_views.class_export, name="class_export"),
    path(
        "classes/<int:pk>/students/<int:student_id>/docker/",
        class_docker_views.class_student_docker,
        name="class_student_docker",
    ),
    path(
        "classes/<int:pk>/students/<int:student_id>/kubernetes/",
        class_kube_views.class_student_kubernetes,
        name="class_student_kubernetes",
    ),
    path(
        "classes/<int:pk>/students/<int:student_id>/workspace/reset/",
        workspace_views.class_workspace_reset,
        name="class_workspace_reset",
    ),
    path(
        "classes/<int:pk>/terminals/extend/",
        class_extend_views.class_terminals_extend,
        name="class_terminals_extend",
    ),
    path("classes/<int:pk>/warm/", warm_views.class_warm_panel, name="class_warm_panel"),
    path("classes/<int:pk>/warm/start/", warm_views.class_warm_start, name="class_warm_start"),
    path("classes/<int:pk>/warm/stop/", warm_views.class_warm_stop, name="class_warm_stop"),
]
