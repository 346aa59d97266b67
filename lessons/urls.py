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
    path("highlight.css", views.highlight_css, name="highlight_css"),
    path("accounts/signup/", views.signup, name="signup"),
]
