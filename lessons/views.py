from __future__ import annotations

from asgiref.sync import sync_to_async
from django.contrib.auth import login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_POST
from pygments.formatters import HtmlFormatter

from lessons.build_views import versions_of
from lessons.catalogue import MAX_COMMAND_BYTES, Exercise, Lesson, catalogue
from lessons.checks import exercise_of, purpose, run_label
from lessons.forms import SignupForm
from lessons.models import Attempt
from lessons.progress import course_progress, lesson_progress, record
from sandbox import errors
from sandbox.api import playgrounds, runs
from sandbox.api import queue as runqueue
from sandbox.models import QueuedRun, Run


def course(request: HttpRequest) -> HttpResponse:
    tracks = course_progress(request.user)
    minutes = sum(track.minutes for track in tracks)
    return render(request, "lessons/course.html", {"tracks": tracks, "minutes": minutes})


def _lesson_or_404(slug: str) -> Lesson:
    try:
        return catalogue()[slug]
    except KeyError:
        raise Http404(_("레슨을 찾을 수 없어요.")) from None


def lesson_detail(request: HttpRequest, slug: str) -> HttpResponse:
    lesson = _lesson_or_404(slug)
    lessons = list(catalogue().values())
    index = lessons.index(lesson)
    return render(
        request,
        "lessons/lesson_detail.html",
        {
            "lesson": lesson,
            "progress": lesson_progress(request.user, lesson),
            "build_versions": {
                block.id: versions_of(request.user, lesson, block)
                for block in lesson.builds.values()
            },
            "previous": lessons[index - 1] if index > 0 else None,
            "next": lessons[index + 1] if index + 1 < len(lessons) else None,
        },
    )


def _run_message(
    request: HttpRequest, message: str, *, login_link: bool = False, live_runs=()
) -> HttpResponse:
    return render(
        request,
        "lessons/run_message.html",
        {
            "message": message,
            "login_link": login_link,
            "live_runs": live_runs,
            "next": request.headers.get("HX-Current-URL", ""),
        },
    )


def _command_for(exercise: Exercise, submitted: str | None) -> str:
    """The command to run: the lesson's, or the student's edit where the exercise allows it."""
    if not exercise.editable or submitted is None:
        return exercise.command
    command = submitted.replace("\r\n", "\n").strip()
    if not command:
        raise ValueError(_("실행할 명령을 입력해 주세요."))
    if len(command.encode()) > MAX_COMMAND_BYTES:
        raise ValueError(
            _("명령이 너무 길어요. {n}바이트 이내로 줄여 주세요.").format(n=MAX_COMMAND_BYTES)
        )
    if "\x00" in command:
        raise ValueError(_("명령에 쓸 수 없는 문자(NUL)가 있어요."))
    return command


def _run_spec(lesson: Lesson, exercise: Exercise, command: str, owner_id: int) -> runs.RunSpec:
    parts: tuple[runs.Part, ...] = ()
    if exercise.containers:
        parts = tuple(runs.Part(c.name, c.command, c.main) for c in exercise.containers)
        command = "\n".join(f"# {c.name}\n{c.command}" for c in exercise.containers)
    elif exercise.repeat > 1:
        parts = tuple(
            runs.Part(_("{n}번째 컨테이너").format(n=n), command, main=n == exercise.repeat)
            for n in range(1, exercise.repeat + 1)
        )
    return runs.RunSpec(
        image=exercise.image,
        command=command,
        owner_id=owner_id,
        label=run_label(lesson.slug, exercise.id),
        purpose=purpose(lesson.slug, exercise.id),
        timeout=exercise.timeout,
        memory=exercise.memory,
        parts=parts,
        one_after_another=exercise.repeat > 1 or exercise.in_turn,
        volume=exercise.volume or "",
    )


@require_POST
async def exercise_run(request: HttpRequest, slug: str, exercise_id: str) -> HttpResponse:
    lesson = _lesson_or_404(slug)
    exercise = lesson.exercises.get(exercise_id)
    if exercise is None:
        raise Http404(_("실습을 찾을 수 없어요."))
    user = await request.auser()
    if not user.is_authenticated:
        return _run_message(request, _("실습을 실행하려면 로그인해 주세요."), login_link=True)
    try:
        command = _command_for(exercise, request.POST.get("command"))
    except ValueError as error:
        return _run_message(request, str(error))
    spec = _run_spec(lesson, exercise, command, user.pk)
    try:
        pressed = await runs.press(spec, queue=True)
    except runs.QuotaExceeded as error:  # the student's own limit: at once, with a stop offer
        return _run_message(request, str(error), live_runs=await _live_runs_of(user))
    if isinstance(pressed.item, QueuedRun):
        # The server is full: the press waits its turn, and the panel shows where it stands.
        context = {"entry": pressed.item, "joined": pressed.joined}
        context["standing"] = await runqueue.standing(pressed.item)
        return render(request, "sandbox/queue_panel.html#panel", context)
    # The class dashboards learn of the run once it runs (sandbox.hooks' start hook, which a
    # queued press reaches too) and once it ends (the attempt): one notice per change.
    return render(
        request, "sandbox/run_panel.html#panel", {"run": pressed.item, "joined": pressed.joined}
    )


async def _live_runs_of(user) -> list[dict]:
    """The student's live runs, named by their exercises, so the quota message can offer to
    stop one."""
    found = []
    async for run in Run.objects.filter(owner=user, state__in=Run.LIVE_STATES):
        named = exercise_of(run)
        title = named[1].title if named else run.label
        found.append({"run": run, "title": title})
    return found


def signup(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = SignupForm(request.POST)
        if form.is_valid():
            user = form.save()
            login(request, user)
            target = request.POST.get("next", "")
            safe = url_has_allowed_host_and_scheme(
                target, {request.get_host()}, request.is_secure()
            )
            return redirect(target if target and safe else "course")
    else:
        form = SignupForm(initial={"join_code": request.GET.get("code", "")})
    next_url = request.POST.get("next") or request.GET.get("next", "")
    return render(request, "registration/signup.html", {"form": form, "next": next_url})


@require_POST
def question_answer(request: HttpRequest, slug: str, question_id: str) -> HttpResponse:
    lesson = _lesson_or_404(slug)
    question = lesson.questions.get(question_id)
    if question is None:
        raise Http404(_("질문을 찾을 수 없어요."))
    given = request.POST.get("answer", "").strip()[:200]
    if not given:
        return render(
            request, "lessons/question_feedback.html", {"question": question, "empty": True}
        )
    judged = question.judge(given)
    if request.user.is_authenticated:
        record(
            request.user,
            lesson.slug,
            question.id,
            Attempt.Kind.QUESTION,
            judged.right,
            answer=given,
        )
    return render(
        request,
        "lessons/question_feedback.html",
        {"question": question, "right": judged.right, "hint": judged.hint},
    )


@cache_control(max_age=86400, public=True)
def highlight_css(request: HttpRequest) -> HttpResponse:
    """Code-highlighting colours, generated by Pygments rather than copied into the repo."""
    css = HtmlFormatter(style="xcode").get_style_defs(".highlight")
    return HttpResponse(css, content_type="text/css")


@require_POST
async def check_run(request: HttpRequest, slug: str, check_id: str) -> HttpResponse:
    """확인: run the lesson's check in the student's terminal and record the attempt."""
    lesson = _lesson_or_404(slug)
    check = lesson.checks.get(check_id)
    if check is None:
        raise Http404(_("확인할 항목을 찾을 수 없어요."))
    user = await request.auser()
    context: dict[str, object] = {"check": check}
    if not user.is_authenticated:
        context["message"] = _("확인하려면 로그인해 주세요.")
        return render(request, "lessons/check_feedback.html", context)
    try:
        result = await playgrounds.request_check(user.pk, check.command, check.timeout)
    except playgrounds.NoPlayground:
        context["message"] = _("먼저 터미널을 열고 실습을 해 주세요.")
        return render(request, "lessons/check_feedback.html", context)
    except (errors.EngineUnavailable, errors.EngineError):
        context["message"] = _("도커 엔진에 연결할 수 없어요. 잠시 후 다시 확인해 주세요.")
        return render(request, "lessons/check_feedback.html", context)
    passed = result.exit_code == 0
    await sync_to_async(record)(
        user,
        lesson.slug,
        check.id,
        Attempt.Kind.CHECK,
        passed,
        reason="" if passed else check.failure,
        answer=result.output[-200:],
    )
    context.update(passed=passed, output=result.output[-2000:])
    return render(request, "lessons/check_feedback.html", context)
