"""`build_lab_images --if-missing` rebuilds an image whose inputs changed (a stale lab image
would run exercises on yesterday's tools)."""

import shutil

import pytest

from sandbox import engine, images, lab_images

pytestmark = pytest.mark.docker


def test_an_image_built_from_other_inputs_is_not_up_to_date(tmp_path, monkeypatch):
    folder = tmp_path / "web"
    shutil.copytree(lab_images.IMAGES_DIR / "web", folder)
    tag = f"baeum-test/fingerprint-{tmp_path.name}".lower()
    monkeypatch.setitem(images.LAB_IMAGES, tag, (folder, {"VERSION": "v1"}))
    try:
        assert not images.up_to_date(tag)  # not built yet
        images.build(tag)
        assert images.up_to_date(tag)
        (folder / "serve.sh").write_text((folder / "serve.sh").read_text() + "\n# changed\n")
        assert not images.up_to_date(tag)
    finally:
        engine.remove_image(tag)


def test_the_lab_images_carry_their_fingerprint():
    for tag in images.LAB_IMAGES:
        assert images.up_to_date(tag), f"{tag} is stale: run manage.py build_lab_images"
