"""On SQLite an update's and a delete's access checks run before the write transaction
(SecuredRepository._checks_first: the transaction holds the file's one write lock). Inside,
the write confirms that the version it checked is still the current one and checks again if
not, so a change made in between by another writer is never written over unchecked. A
refusal found before the transaction is audited (inside it, the record went with the
rollback)."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from access_world import C, TODAY, actor, questionnaire_response  # noqa: E402  (pytest puts this folder on sys.path)

from ehelse.access.policy import AccessPolicy
from ehelse.access.repository import SecuredRepository
from ehelse.audit import log
from ehelse.errors import Forbidden, NotFound


class ChangedAfterRead:
    """The real repository, but right after the first read of `key` outside a transaction
    (the checks' read) another writer changes the resource: `change()` runs then."""

    def __init__(self, repo: Any, key: tuple[str, str], change: Callable[[], None]):
        self._repo, self._key, self._change = repo, key, change
        self.changed = False

    def read(self, type: str, id: str):
        version = self._repo.read(type, id)
        if (type, id) == self._key and not self.changed and getattr(self._repo._local, "conn", None) is None:
            self.changed = True
            self._change()
        return version

    def __getattr__(self, name: str) -> Any:
        return getattr(self._repo, name)


def kari(repo: Any) -> SecuredRepository:
    return SecuredRepository(repo, actor("patient", C["kari"].fnr, patient=C["kari"].fnr), AccessPolicy(TODAY))


def _own_response(repo: Any, id: str) -> dict[str, Any]:
    resource = {**questionnaire_response("demo-kari"), "id": id}
    repo.update(resource)
    return resource


def _moved_to_emma(repo: Any, id: str) -> Callable[[], None]:
    return lambda: repo.update({**questionnaire_response("demo-emma"), "id": id})


def test_the_checks_run_before_the_transaction_on_sqlite(world):
    repo, _ = world
    assert repo.exclusive_writes and kari(repo)._checks_first


@pytest.mark.parametrize("interaction", ["update", "delete"])
def test_a_change_between_the_check_and_the_write_is_checked_again(world, interaction):
    """Kari may write her own response; another writer moves it to Emma's record after
    Kari's checks read it. The write checks the new version and refuses (404 for a citizen):
    Emma's version stays as the other writer left it."""
    repo, _ = world
    id = f"qr-moving-{interaction}"
    _own_response(repo, id)
    secured = kari(repo)
    secured.inner = moving = ChangedAfterRead(repo, ("QuestionnaireResponse", id), _moved_to_emma(repo, id))
    with pytest.raises(NotFound):
        if interaction == "update":
            secured.update({**questionnaire_response("demo-kari"), "id": id, "status": "amended"})
        else:
            secured.delete("QuestionnaireResponse", id)
    assert moving.changed
    stored = repo.read("QuestionnaireResponse", id)
    assert stored.version_id == 2 and not stored.deleted
    assert b"Patient/demo-emma" in stored.content and b"amended" not in stored.content


@pytest.mark.parametrize("interaction", ["update", "delete"])
def test_an_unchanged_resource_is_written_after_the_check(world, interaction):
    repo, _ = world
    id = f"qr-still-{interaction}"
    _own_response(repo, id)
    secured = kari(repo)
    secured.inner = moving = ChangedAfterRead(repo, ("QuestionnaireResponse", id), lambda: None)
    if interaction == "update":
        version, created = secured.update({**questionnaire_response("demo-kari"), "id": id, "status": "amended"})
        assert (version.version_id, created) == (2, False) and b"amended" in version.content
    else:
        assert secured.delete("QuestionnaireResponse", id).version_id == 2
        assert repo.read("QuestionnaireResponse", id).deleted
    assert moving.changed  # the checks did read it before the transaction


def test_a_refused_update_of_an_existing_resource_is_audited(world):
    """Kari may read the GP's Observation in her record but not change it: 403, and the
    refusal is in the audit log as a denied access to her record."""
    repo, _ = world
    before = log.count(repo, log.LogQuery(patients=["demo-kari"]))
    observation = repo.read("Observation", "obs-demo-kari")
    with pytest.raises(Forbidden):
        kari(repo).update({"resourceType": "Observation", "id": "obs-demo-kari", "status": "amended",
                           "code": {"text": "x"}, "subject": {"reference": "Patient/demo-kari"}})
    assert repo.read("Observation", "obs-demo-kari").version_id == observation.version_id
    rows = log.select(repo, log.LogQuery(patients=["demo-kari"], count=1))
    assert log.count(repo, log.LogQuery(patients=["demo-kari"])) == before + 1
    assert (rows[0]["interaction"], rows[0]["outcome"], rows[0]["refs"]) == ("update", "4", "Observation/obs-demo-kari")
