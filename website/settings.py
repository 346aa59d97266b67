"""Settings for Baeum. Every value comes from the environment with a default that serves one
machine; README.md lists them all in one table."""

import hashlib
import os
import secrets
import socket
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name: str, default: str) -> bool:
    value = os.environ.get(name, default).strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"{name} must be true or false, not {value!r}")


def _envnumber(name: str, default, cast, what: str):
    value = os.environ.get(name, str(default))
    try:
        return cast(value)
    except ValueError:
        raise ValueError(f"{name} must be {what}, not {value!r}") from None


def envint(name: str, default: int) -> int:
    return _envnumber(name, default, int, "a whole number")


def envfloat(name: str, default: float) -> float:
    return _envnumber(name, default, float, "a number")


def _secret_key() -> str:
    # In development the key is generated once and kept in an untracked file, so sessions
    # survive restarts without a key ever being committed.
    if key := os.environ.get("SECRET_KEY"):
        return key
    path = BASE_DIR / ".secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


DEBUG = envbool("DJANGO_DEBUG", "false")
SECRET_KEY = _secret_key()
ALLOWED_HOSTS = os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",")
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_htmx",
    "template_partials",
    "sandbox",
    "lessons",
]

# Every middleware here must be async-capable: one sync-only middleware makes Django run async
# views on a throwaway event loop, and a run's follower task would die with it (a test checks).
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "website.urls"
ASGI_APPLICATION = "website.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=0,
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Runs are followed by the server while requests write too: wait for the lock, don't fail.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
    DATABASES["default"]["OPTIONS"]["transaction_mode"] = "IMMEDIATE"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# One process by default: the in-memory layer. Scale-out swaps it for Redis by settings alone
# (REDIS_URL), and then a run's recent output is kept in Redis too (sandbox/runlog.py).
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # channels-redis keeps one inbox per process for all its sockets, and drops what
            # finds it full: room for a busy worker's seconds of frames. (A socket that still
            # misses a frame catches up from the run log: sandbox/consumers.py.)
            "CONFIG": {"hosts": [REDIS_URL], "capacity": 20000, "expiry": 60},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "course"
LOGOUT_REDIRECT_URL = "course"

LANGUAGE_CODE = "ko"
LANGUAGES = [("ko", "한국어")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "Asia/Seoul")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Third-party browser code comes from npm (package.json); only the built files are served.
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("vendor/xterm", BASE_DIR / "node_modules" / "@xterm" / "xterm" / "lib"),
    ("vendor/xterm-css", BASE_DIR / "node_modules" / "@xterm" / "xterm" / "css"),
    ("vendor/xterm-fit", BASE_DIR / "node_modules" / "@xterm" / "addon-fit" / "lib"),
]
# The ASGI app serves static files straight from the app and project folders (asgi.py), so one
# machine needs no collectstatic step; behind a proxy, collectstatic and let it serve STATIC_ROOT.

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}


def _namespace() -> str:
    """This deployment's name on the engine: every object it makes carries it, and its reaper,
    pool, quotas and listings touch nothing else. Derived from the database (a deployment is its
    database), so two deployments on one engine never share one by accident, and a restart of
    the same deployment finds its own objects again. SANDBOX_NAMESPACE overrides it."""
    if given := os.environ.get("SANDBOX_NAMESPACE"):
        return given
    db = DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):  # a file: this machine's, at this path
        where = f"sqlite:{socket.gethostname()}:{Path(db['NAME']).resolve()}"
    else:
        where = f"{db['ENGINE']}:{db.get('HOST', '')}:{db.get('PORT', '')}:{db['NAME']}"
    return "baeum-" + hashlib.sha256(where.encode()).hexdigest()[:10]


# The sandbox: limits for every container a student's input runs in (sandbox/engine/profile.py).
SANDBOX_NAMESPACE = _namespace()
SANDBOX_REAP_SECONDS = envint("SANDBOX_REAP_SECONDS", 60)
# Warm containers kept per lab image, waiting for a command (0 turns the pool off).
SANDBOX_POOL_SIZE = envint("SANDBOX_POOL_SIZE", 2)
# Terminals (playgrounds): how long one lives at most, and how long it may sit unused.
SANDBOX_PLAYGROUND_SECONDS = envint("SANDBOX_PLAYGROUND_SECONDS", 30 * 60)
SANDBOX_PLAYGROUND_IDLE_SECONDS = envint("SANDBOX_PLAYGROUND_IDLE_SECONDS", 10 * 60)
# 연장: a student may add the lifetime again this many times a day (a class extension by the
# instructor is not counted); 4 × 30 min on top of the first 30 is a long class day.
SANDBOX_PLAYGROUND_EXTENSIONS_PER_DAY = envint("SANDBOX_PLAYGROUND_EXTENSIONS_PER_DAY", 4)
# The largest file a student may upload into their terminal's /work at once (/work itself is
# capped too; sandbox/api/workspace_files.py).
SANDBOX_UPLOAD_BYTES = envint("SANDBOX_UPLOAD_BYTES", 8 * 2**20)
# A student's persistent /work (sandbox/supervisor/workspaces.py): its cap (the terminal's /work
# tmpfs is
# this size, and the terminal's memory limit grows by as much, since tmpfs pages count against
# it), how long a saved one is kept after its last use, how often a live one is saved when typed
# in, and where the saved tars go (one folder per deployment: one never touches another's).
SANDBOX_WORKSPACE_BYTES = envint("SANDBOX_WORKSPACE_BYTES", 64 * 2**20)
SANDBOX_WORKSPACE_DAYS = envint("SANDBOX_WORKSPACE_DAYS", 14)
SANDBOX_WORKSPACE_SAVE_SECONDS = envint("SANDBOX_WORKSPACE_SAVE_SECONDS", 60)
SANDBOX_WORKSPACE_DIR = Path(
    os.environ.get("SANDBOX_WORKSPACE_DIR") or BASE_DIR / "var" / "workspaces" / SANDBOX_NAMESPACE
)
# Image builds: time limit, images kept per student, and how long they are kept.
SANDBOX_BUILD_SECONDS = envint("SANDBOX_BUILD_SECONDS", 120)
SANDBOX_BUILD_IMAGES = envint("SANDBOX_BUILD_IMAGES", 5)
SANDBOX_BUILD_TTL_HOURS = envint("SANDBOX_BUILD_TTL_HOURS", 24)
# Orchestration labs (swarm mode): how long a student's lab lives.
SANDBOX_LAB_SECONDS = envint("SANDBOX_LAB_SECONDS", 30 * 60)
# Kubernetes (sandbox/kube.py): the cluster's admin kubeconfig. Default: the one `make
# kubernetes` writes, if that cluster was ever started here; empty means no cluster. Any
# conformant cluster (k3s, kubeadm) works: point this at its admin kubeconfig.
KUBERNETES_DEFAULT_KUBECONFIG = "/var/lib/baeum-k8s/admin.kubeconfig"
KUBERNETES_KUBECONFIG = os.environ.get(
    "KUBERNETES_KUBECONFIG",
    KUBERNETES_DEFAULT_KUBECONFIG if os.path.exists(KUBERNETES_DEFAULT_KUBECONFIG) else "",
)
# kubectl in the terminal (sandbox/supervisor/kube_gate.py): the terminal image with kubectl (built
# FROM
# baeum/lab by `make kubernetes`), and the range the playgrounds' private networks take /29s
# from (kept clear of the cluster's pod and service ranges and of the engine's own pools).
KUBERNETES_TERMINAL_IMAGE = os.environ.get("KUBERNETES_TERMINAL_IMAGE", "baeum/kubectl")
SANDBOX_TERMINAL_KUBECTL = os.environ.get("SANDBOX_TERMINAL_KUBECTL", "1") != "0"
SANDBOX_KUBE_SUBNETS = os.environ.get("SANDBOX_KUBE_SUBNETS", "10.150.0.0/16")
# The docker CLI in every terminal, through a gate of its own (sandbox/supervisor/docker_gate.py):
# its socket lives in a folder per playground under SANDBOX_DOCKER_GATE_DIR, on the supervisor's
# host.
SANDBOX_TERMINAL_DOCKER = os.environ.get("SANDBOX_TERMINAL_DOCKER", "1") != "0"
SANDBOX_DOCKER_GATE_DIR = os.environ.get("SANDBOX_DOCKER_GATE_DIR", "/run/baeum/docker-gates")
# Containers a student may have through their terminal's docker CLI at once (running or not),
# each within the hardening profile's memory, CPU and pids limits.
SANDBOX_DOCKER_MAX_CONTAINERS = envint("SANDBOX_DOCKER_MAX_CONTAINERS", 5)
# Networks and named volumes a student may make with it: networks are internal bridges, each on
# a /28 of SANDBOX_DOCKER_SUBNETS (the engine's own pools hold about thirty networks in all);
# volumes are tmpfs of the volume profile's size (engine.profile.VOLUME_OPTIONS).
SANDBOX_DOCKER_MAX_NETWORKS = envint("SANDBOX_DOCKER_MAX_NETWORKS", 3)
SANDBOX_DOCKER_MAX_VOLUMES = envint("SANDBOX_DOCKER_MAX_VOLUMES", 3)
# Images a student may build with it (each tag counted once per image).
SANDBOX_DOCKER_MAX_IMAGES = envint("SANDBOX_DOCKER_MAX_IMAGES", 5)
# Builds through the docker CLI at once, in all (each student one at a time).
SANDBOX_DOCKER_BUILDS = envint("SANDBOX_DOCKER_BUILDS", 2)
SANDBOX_DOCKER_SUBNETS = os.environ.get("SANDBOX_DOCKER_SUBNETS", "10.151.0.0/16")
# A student's namespace (and their pods) is deleted after this long without a terminal open.
SANDBOX_KUBE_IDLE_SECONDS = envint("SANDBOX_KUBE_IDLE_SECONDS", 2 * 3600)
DOCKER_TIMEOUT_SECONDS = envint("DOCKER_TIMEOUT_SECONDS", 15)
SANDBOX_MEMORY = os.environ.get("SANDBOX_MEMORY", "128m")
SANDBOX_PIDS = envint("SANDBOX_PIDS", 64)
SANDBOX_CPUS = envfloat("SANDBOX_CPUS", 0.5)
SANDBOX_TTL_SECONDS = envint("SANDBOX_TTL_SECONDS", 60)
SANDBOX_TRANSCRIPT_BYTES = envint("SANDBOX_TRANSCRIPT_BYTES", 256 * 1024)
SANDBOX_MAX_PER_USER = envint("SANDBOX_MAX_PER_USER", 2)
SANDBOX_MAX_TOTAL = envint("SANDBOX_MAX_TOTAL", max(4, (os.cpu_count() or 1) * 8))
# A press that finds the server full waits in the queue (sandbox/api/queue.py) this long at most.
SANDBOX_QUEUE_SECONDS = envint("SANDBOX_QUEUE_SECONDS", 5 * 60)
# A class's warm-up (sandbox/supervisor/warmup.py): warm containers for the students online, within
# this
# memory (default a quarter of the machine's; each warm container counts its memory limit), ended
# after the class pressed nothing for SANDBOX_WARM_IDLE_SECONDS. "Online": signed in, pressed
# 실행 or had a terminal open within SANDBOX_WARM_ONLINE_SECONDS.
SANDBOX_WARM_MEMORY = os.environ.get(
    "SANDBOX_WARM_MEMORY", str(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 4)
)
SANDBOX_WARM_IDLE_SECONDS = envint("SANDBOX_WARM_IDLE_SECONDS", 10 * 60)
SANDBOX_WARM_ONLINE_SECONDS = envint("SANDBOX_WARM_ONLINE_SECONDS", 15 * 60)
# Threads for blocking Docker calls, per supervising process (sandbox/supervisor/engine_threads.py).
SANDBOX_ENGINE_THREADS = envint("SANDBOX_ENGINE_THREADS", 64)

# Scale-out (README, "Deployment"). Who talks to the Docker Engine: "inside" (the default) the
# server itself; "separate": only `manage.py sandbox_supervisor`, which web workers ask through
# the channel layer (so it needs REDIS_URL, and web workers need no Docker socket).
SANDBOX_SUPERVISOR = os.environ.get("SANDBOX_SUPERVISOR", "inside")
if SANDBOX_SUPERVISOR not in {"inside", "separate"}:
    raise ValueError(f"SANDBOX_SUPERVISOR must be inside or separate, not {SANDBOX_SUPERVISOR!r}")
if SANDBOX_SUPERVISOR == "separate" and not REDIS_URL:
    raise ValueError("SANDBOX_SUPERVISOR=separate needs REDIS_URL: the processes talk through it")
# Container hosts for runs, e.g. "unix:///var/run/docker.sock,tcp://10.0.0.2:2376"; empty: the
# one engine DOCKER_HOST names. Each run goes to the host with the fewest live runs.
SANDBOX_ENGINES = [url.strip() for url in os.environ.get("SANDBOX_ENGINES", "").split(",") if url]
