"""Which lab images there are: tags and their build contexts, and nothing that needs the engine.

The lesson loader checks an exercise's `image` against these names without importing the Docker
SDK; `sandbox/images.py` builds them.
"""

from pathlib import Path

IMAGES_DIR = Path(__file__).resolve().parent / "images"
# tag → (build context folder, build args). `baeum/lab` first: the others are built FROM it.
LAB_IMAGES = {
    "baeum/lab": (IMAGES_DIR / "lab", {}),
    "baeum/web:v1": (IMAGES_DIR / "web", {"VERSION": "v1"}),
    "baeum/web:v2": (IMAGES_DIR / "web", {"VERSION": "v2"}),
    "baeum/web:v2-broken": (IMAGES_DIR / "web", {"VERSION": "v2-broken"}),
}

# The project's own service images, never an exercise's: built the same way, FROM baeum/lab.
# `baeum/registry` is the deployment's registry for the Docker CLI's push and pull
# (sandbox/supervisor/docker_registry.py), built only where Debian's docker-registry binary is.
SERVICE_IMAGES: dict[str, tuple[Path, dict[str, str]]] = {
    "baeum/registry": (IMAGES_DIR / "registry", {}),
}
