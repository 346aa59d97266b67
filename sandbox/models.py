import uuid

from django.conf import settings
from django.db import models


class Run(models.Model):
    """One execution of a student's command in a throwaway container, and what it left."""

    class State(models.TextChoices):
        STARTING = "starting", "시작 중"
        RUNNING = "running", "실행 중"
        EXITED = "exited", "종료"
        TIMED_OUT = "timed_out", "시간 초과"
        STOPPED = "stopped", "멈춤"
        FAILED = "failed", "실패"

    LIVE_STATES = (State.STARTING, State.RUNNING)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="runs"
    )
    # An opaque key set by whoever asked for the run (lessons: "lesson/<slug>/<exercise>"):
    # one live run per owner and label. What the run is for is `page` and `block`
    # (sandbox.specs.Purpose), read from their own columns, never parsed out of the label.
    label = models.CharField(max_length=200, db_index=True)
    page = models.CharField(max_length=100, blank=True, default="")
    block = models.CharField(max_length=100, blank=True, default="")
    image = models.CharField(max_length=200)
    command = models.TextField()
    timeout_seconds = models.PositiveIntegerField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.STARTING)
    container_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    exit_code = models.IntegerField(null=True, blank=True)
    oom_killed = models.BooleanField(default=False)
    # Every container's output, in order: [{name, transcript, dropped_bytes, exit_code, seconds}].
    panes = models.JSONField(default=list)
    # All panes' output together: what an exercise's check reads.
    transcript = models.TextField(blank=True)
    transcript_dropped_bytes = models.PositiveIntegerField(default=0)
    # A plain sentence for the student when the run could not do its job.
    message = models.CharField(max_length=300, blank=True)
    # What the engine said, for the server log and the instructor's transcript view: never
    # shown to the student (ids, `No such container` …).
    detail = models.CharField(max_length=500, blank=True)
    # The queue entry this run was started from (sandbox/api/queue.py), so a queue socket that
    # reconnects after the entry left the queue finds the run it became.
    queued_as = models.UUIDField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "state"])]
        constraints = [
            # Two presses of one button landing on two web workers at once start one run: the
            # database decides, not a lock of one process (sandbox/api/runs.py, start_run).
            models.UniqueConstraint(
                fields=["owner", "label"],
                condition=models.Q(state__in=("starting", "running")),
                name="one_live_run_per_owner_and_label",
            )
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.get_state_display()})"

    @property
    def is_live(self) -> bool:
        return self.state in self.LIVE_STATES

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.ended_at:
            return (self.ended_at - self.started_at).total_seconds()
        return None


class QueuedRun(models.Model):
    """A press that found the server full (SANDBOX_MAX_TOTAL live runs): it waits here, in the
    database, so every web worker and the supervisor see it and it outlives any one process.
    First come, first served: the order is the id. Whoever frees a slot deletes the row and
    creates the Run in one transaction (sandbox/api/queue.py)."""

    id = models.BigAutoField(primary_key=True)
    key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)  # in URLs
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="queued_runs"
    )
    label = models.CharField(max_length=200)
    spec = models.JSONField()  # sandbox.runs.RunSpec.data()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            # A second press of the same exercise while queued is the same entry.
            models.UniqueConstraint(
                fields=["owner", "label"], name="one_queued_run_per_owner_and_label"
            )
        ]

    def __str__(self) -> str:
        return f"{self.label} (queued)"


class Playground(models.Model):
    """A student's terminal: one long-lived sandbox with a shell on a TTY."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="playgrounds"
    )
    container_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=200, blank=True)
    # The containers its student made with the docker CLI, as the Docker gate last saw them
    # (name, image, state, created: sandbox/supervisor/docker_audit.py), for the dashboards.
    docker_containers = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"playground of {self.owner_id} ({'ended' if self.ended_at else 'live'})"


class DockerCall(models.Model):
    """What a student asked of the engine through their terminal's Docker gate, in the CLI's
    words (`run --name web1 nginx`, `network create app`), refused or not: their instructor
    reads it beside the terminal."""

    playground = models.ForeignKey(
        Playground, on_delete=models.CASCADE, related_name="docker_calls"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    summary = models.CharField(max_length=300)
    refused = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["playground", "-created_at"])]

    def __str__(self) -> str:
        return self.summary


class Workspace(models.Model):
    """A student's persistent /work: the tar the supervisor keeps of it on disk (outside every
    container, under SANDBOX_WORKSPACE_DIR), what it weighs and when it was last saved and used,
    and the scrollback of the last terminal session, so it can be read back after the end."""

    owner = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="workspace"
    )
    # Size of the saved tar; 0 with saved_at unset: nothing saved yet (or reset).
    bytes = models.BigIntegerField(default=0)
    saved_at = models.DateTimeField(null=True, blank=True)
    # The last open, input or save: the keeping time (SANDBOX_WORKSPACE_DAYS) counts from here.
    last_used_at = models.DateTimeField(db_index=True)
    # The playground whose /work was saved last, and that session's scrollback.
    playground = models.ForeignKey(Playground, on_delete=models.SET_NULL, null=True, blank=True)
    scrollback = models.TextField(blank=True)
    # A plain sentence for the student when the last save failed (the previous tar is kept).
    message = models.CharField(max_length=300, blank=True)

    def __str__(self) -> str:
        return f"workspace of {self.owner_id} ({self.bytes} bytes)"


class Build(models.Model):
    """A student's image build: the Dockerfile, each step (built or cached, and how long), the
    resulting image, and the version tag the student gave it."""

    class State(models.TextChoices):
        BUILDING = "building", "빌드 중"
        BUILT = "built", "완료"
        FAILED = "failed", "실패"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="builds"
    )
    label = models.CharField(max_length=200, db_index=True)  # as Run's
    page = models.CharField(max_length=100, blank=True, default="")
    block = models.CharField(max_length=100, blank=True, default="")
    repository = models.CharField(max_length=200)
    dockerfile = models.TextField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.BUILDING)
    # [{index, instruction, cached, seconds}] in order.
    steps = models.JSONField(default=list)
    log = models.TextField(blank=True)
    message = models.CharField(max_length=300, blank=True)
    image_id = models.CharField(max_length=100, blank=True)
    size_bytes = models.BigIntegerField(null=True, blank=True)
    version = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    removed = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at"]

    @property
    def seconds(self) -> float | None:
        if self.ended_at:
            return (self.ended_at - self.created_at).total_seconds()
        return None

    @property
    def reference(self) -> str:
        return f"{self.repository}:build-{str(self.id)[:12]}"

    @property
    def cached_steps(self) -> int:
        return sum(1 for step in self.steps if step.get("cached"))


class TerminalExtension(models.Model):
    """One 연장 of a terminal's life: by the student (counted against their daily cap,
    SANDBOX_PLAYGROUND_EXTENSIONS_PER_DAY) or by an instructor for the whole class (not counted)."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="terminal_extensions"
    )
    playground = models.ForeignKey(Playground, on_delete=models.CASCADE, related_name="extensions")
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    counted = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()  # the new end

    class Meta:
        indexes = [models.Index(fields=["owner", "created_at"])]


class TerminalPreferences(models.Model):
    """How a student likes their terminal: kept on the server, so it follows them to another
    computer."""

    FONT_SIZES = (12, 14, 16, 18, 20, 24, 28)

    owner = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="terminal_preferences"
    )
    font_size = models.PositiveSmallIntegerField(default=14)
    high_contrast = models.BooleanField(default=False)
    screen_reader = models.BooleanField(default=True)
