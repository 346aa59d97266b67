"""What a run or a build is for travels as typed data (sandbox.specs.Purpose) and is kept in the
record's own columns; records made before that get theirs from their label, once."""

import importlib

import pytest
from django.apps import apps

from sandbox.models import Build, Run
from sandbox.specs import Purpose, RunSpec

pytestmark = pytest.mark.django_db


def test_a_spec_carries_its_purpose_there_and_back():
    spec = RunSpec("baeum/lab", "hostname", 1, "lesson/a/b", 20, purpose=Purpose("a", "b"))
    assert RunSpec.from_data(spec.data()) == spec
    saved_before = {key: value for key, value in spec.data().items() if key != "purpose"}
    assert RunSpec.from_data(saved_before).purpose == Purpose()  # a press queued before


def test_records_made_before_purposes_get_theirs_from_the_label(alice):
    migration = importlib.import_module("sandbox.migrations.0010_purpose")
    fields = {"owner": alice, "image": "baeum/lab", "command": "x", "timeout_seconds": 1}
    old = Run.objects.create(label="lesson/docker-01-what-is-a-container/my-hostname", **fields)
    other = Run.objects.create(label="test", **fields)
    build = Build.objects.create(
        owner=alice, label="lesson/docker-04/rollback-lab", repository="r", dockerfile="FROM x"
    )
    migration.purposes_from_labels(apps, None)
    old.refresh_from_db()
    other.refresh_from_db()
    build.refresh_from_db()
    assert (old.page, old.block) == ("docker-01-what-is-a-container", "my-hostname")
    assert (other.page, other.block) == ("", "")
    assert (build.page, build.block) == ("docker-04", "rollback-lab")
