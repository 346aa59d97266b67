"""Classes: instructors create and run them, students join them."""

from __future__ import annotations

import csv

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from lessons import dashboard
from lessons.catalogue import catalogue
from lessons.classes import is_instructor, new_join_code, normalize_code, teaches
from lessons.http import SignedInRequest
from lessons.models import Attempt, Classroom
from sandbox.models import Playground


def _taught_or_403(request: SignedInRequest, pk: int) -> Classroom:
    classroom = get_object_or_404(Classroom, pk=pk)
    if not teaches(request.user, classroom):
        raise PermissionDenied(_("이 수업의 강사만 볼 수 있어요."))
    return classroom


@login_required
def classes(request: SignedInRequest) -> HttpResponse:
    return render(
        request,
        "lessons/classes.html",
        {
            "instructor": is_instructor(request.user),
            "teaching": Classroom.objects.filter(instructors=request.user),
            "joined": Classroom.objects.filter(students=request.user),
        },
    )


@login_required
@require_POST
def class_create(request: SignedInRequest) -> HttpResponse:
    if not is_instructor(request.user):
        raise PermissionDenied(_("강사만 수업을 만들 수 있어요."))
    name = request.POST.get("name", "").strip()[:100]
    if not name:
        messages.error(request, _("수업 이름을 입력해 주세요."))
        return redirect("classes")
    classroom = Classroom.objects.create(name=name, join_code=new_join_code())
    classroom.instructors.add(request.user)
    return redirect("class_dashboard", pk=classroom.pk)


def join(user, code: str) -> Classroom | None:
    classroom = Classroom.objects.filter(join_code=normalize_code(code)).first()
    if classroom is not None:
        classroom.students.add(user)
    return classroom


@login_required
def class_join(request: SignedInRequest) -> HttpResponse:
    code = request.POST.get("code") or request.GET.get("code", "")
    if request.method == "POST":
        classroom = join(request.user, code)
        if classroom is None:
            messages.error(request, _("참여 코드가 맞지 않아요. 강사에게 다시 확인해 주세요."))
        else:
            messages.success(request, _("«{name}» 수업에 참여했어요.").format(name=classroom.name))
            return redirect("course")
    return render(request, "lessons/class_join.html", {"code": code})


@login_required
def class_dashboard(request: SignedInRequest, pk: int) -> HttpResponse:
    classroom = _taught_or_403(request, pk)
    sort = "progress" if request.GET.get("sort") == "progress" else "name"
    board = dashboard.build(classroom, sort)
    template = "lessons/class_dashboard.html"
    if request.htmx:
        template += "#matrix"
    join_url = request.build_absolute_uri(f"/classes/join/?code={classroom.join_code}")
    context = {"board": board, "sort": sort, "join_url": join_url}
    context["lifetime_minutes"] = settings.SANDBOX_PLAYGROUND_SECONDS // 60  # 연장 (class_extend)
    return render(request, template, context)


@login_required
def class_lesson(request: SignedInRequest, pk: int, slug: str) -> HttpResponse:
    classroom = _taught_or_403(request, pk)
    lesson = catalogue().get(slug)
    if lesson is None:
        raise PermissionDenied
    blocks = [(b, dashboard.block_title(lesson, b)) for b in [*lesson.exercises, *lesson.questions]]
    students = list(classroom.students.order_by("username"))
    latest: dict[tuple[int, str], Attempt] = {}
    passed: set[tuple[int, str]] = set()
    counts: dict[tuple[int, str], int] = {}
    for attempt in Attempt.objects.filter(student__in=students, lesson=slug).order_by("created_at"):
        key = (attempt.student_id, attempt.block)
        latest[key] = attempt
        counts[key] = counts.get(key, 0) + 1
        if attempt.passed:
            passed.add(key)
    rows = [
        (
            student,
            [
                {
                    "passed": (student.pk, block) in passed,
                    "attempts": counts.get((student.pk, block), 0),
                    "latest": latest.get((student.pk, block)),
                }
                for block, _title in blocks
            ],
        )
        for student in students
    ]
    return render(
        request,
        "lessons/class_lesson.html",
        {"classroom": classroom, "lesson": lesson, "blocks": blocks, "rows": rows},
    )


@login_required
def class_attempt(request: SignedInRequest, pk: int, attempt_id: int) -> HttpResponse:
    classroom = _taught_or_403(request, pk)
    attempt = get_object_or_404(
        Attempt.objects.select_related("student", "run"),
        pk=attempt_id,
        student__classrooms=classroom,
    )
    lesson = catalogue().get(attempt.lesson)
    return render(
        request,
        "lessons/class_attempt.html",
        {
            "classroom": classroom,
            "attempt": attempt,
            "lesson": lesson,
            "title": dashboard.block_title(lesson, attempt.block) if lesson else attempt.block,
        },
    )


@login_required
@require_POST
def class_rotate_code(request: SignedInRequest, pk: int) -> HttpResponse:
    classroom = _taught_or_403(request, pk)
    classroom.join_code = new_join_code()
    classroom.save(update_fields=["join_code"])
    messages.success(request, _("새 참여 코드를 만들었어요. 예전 코드는 이제 쓸 수 없어요."))
    return redirect("class_dashboard", pk=pk)


@login_required
@require_POST
def class_add_instructor(request: SignedInRequest, pk: int) -> HttpResponse:
    classroom = _taught_or_403(request, pk)
    username = request.POST.get("username", "").strip()
    other = get_user_model().objects.filter(username=username).first()
    if other is None or not is_instructor(other):
        messages.error(request, _("강사 계정 {name}을(를) 찾지 못했어요.").format(name=username))
    else:
        classroom.instructors.add(other)
        messages.success(
            request, _("{name}님을 함께 가르치는 강사로 추가했어요.").format(name=username)
        )
    return redirect("class_dashboard", pk=pk)


@login_required
def class_export(request: SignedInRequest, pk: int) -> HttpResponse:
    """The progress matrix as CSV. UTF-8 with a byte-order mark, so that spreadsheet programs
    open Korean names intact."""
    classroom = _taught_or_403(request, pk)
    board = dashboard.build(classroom)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="class-{pk}-{stamp}.csv"'
    response.write("\ufeff")
    writer = csv.writer(response)
    writer.writerow([_("학생"), _("완료한 레슨"), *[lesson.title for lesson in board.lessons]])
    for row in board.rows:
        writer.writerow(
            [
                row.student.get_username(),
                row.done,
                *[
                    f"{cell.state_name} ({cell.passed_blocks}/{cell.total_blocks}, "
                    f"{cell.attempts}회)"
                    for cell in row.cells
                ],
            ]
        )
    return response


@login_required
def class_terminal(request: SignedInRequest, pk: int, playground_id) -> HttpResponse:
    """A student's live terminal, read-only, for an instructor of their class."""
    classroom = _taught_or_403(request, pk)
    playground = get_object_or_404(
        Playground.objects.select_related("owner"),
        pk=playground_id,
        owner__classrooms=classroom,
        ended_at__isnull=True,
    )
    return render(
        request,
        "lessons/class_terminal.html",
        {
            "classroom": classroom,
            "playground": playground,
            "read_only": True,
            "terminal_url": f"/ws/terminal/{playground.pk}/watch/",
        },
    )
