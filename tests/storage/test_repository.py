"""The one Repository suite: every backend (memory, sqlite, postgres) passes all of it.

The `repo` fixture (tests/conftest.py) runs each test once per backend, on an empty,
upgraded database. Behaviour follows http://hl7.org/fhir/R4/http.html (versions, history,
If-Match) and storage/protocol.py.
"""

from __future__ import annotations

import threading
import time

import orjson
import pytest

from ehelse.errors import BadRequest, Conflict, PreconditionFailed
from ehelse.storage.protocol import ResourceVersion, SearchParam, SearchQuery


def patient(**fields):
    return {"resourceType": "Patient", **fields}


def query(*params, count=50, offset=0, total="accurate", sort=()):
    """SearchQuery from ('name', 'v1,v2') pairs; a 'name:modifier' key sets the modifier."""
    parsed = []
    for name, value in params:
        name, _, modifier = name.partition(":")
        parsed.append(SearchParam(name, modifier or None, tuple(value.split(","))))
    return SearchQuery(parsed, count=count, offset=offset, total=total, sort=list(sort))


def ids(page):
    return [v.id for v in page.entries]


def body(version: ResourceVersion) -> dict:
    return orjson.loads(version.content)


# -- create, read, vread -------------------------------------------------------------------
def test_create_sets_id_meta_and_reads_back(repo):
    resource = patient(meta={"profile": ["http://example.org/p"]}, active=True)
    version = repo.create(resource)
    assert version.version_id == 1 and version.method == "POST" and not version.deleted
    assert resource["id"] == version.id and resource["meta"]["versionId"] == "1"
    assert resource["meta"]["lastUpdated"] == version.last_updated
    assert resource["meta"]["profile"] == ["http://example.org/p"]  # the client's meta is kept
    read = repo.read("Patient", version.id)
    assert read == version
    assert body(read) == {"resourceType": "Patient", "id": version.id,
                          "meta": {"profile": ["http://example.org/p"], "versionId": "1",
                                   "lastUpdated": version.last_updated}, "active": True}


def test_create_with_given_id_and_conflict(repo):
    repo.create(patient(), id="p1")
    assert repo.read("Patient", "p1").version_id == 1
    with pytest.raises(Conflict):
        repo.create(patient(), id="p1")
    repo.create({"resourceType": "Observation"}, id="p1")  # same id, other type: fine
    assert repo.read("Patient", "p1").version_id == 1


def test_read_and_vread_of_what_does_not_exist(repo):
    assert repo.read("Patient", "nope") is None
    repo.create(patient(), id="p1")
    assert repo.vread("Patient", "p1", 2) is None
    assert repo.vread("Patient", "p1", 0) is None
    assert repo.vread("Observation", "p1", 1) is None


def test_content_bytes_come_back_exactly(repo):
    # json.html#primitive: 1.50 keeps its precision; element order is the client's.
    from ehelse.fhir import jsoncodec

    raw = (b'{"resourceType":"Observation","status":"final","valueQuantity":{"value":1.50,'
           b'"unit":"mg"},"code":{"text":"\xc3\xa6\xc3\xb8\xc3\xa5 \xe2\x9c\x93"},'
           b'"component":[{"valueDecimal":1e3},{"valueDecimal":0.1000000000000000000001}]}')
    version = repo.create(jsoncodec.loads(raw), id="o1")
    stored = repo.read("Observation", "o1").content
    assert stored == version.content
    assert b'"value":1.50,' in stored and b'"valueDecimal":1e3' in stored
    assert b'0.1000000000000000000001' in stored
    tail = raw[len(b'{"resourceType":"Observation",'):]
    assert stored.endswith(tail)  # every element after id and meta in the client's order
    assert repo.vread("Observation", "o1", 1).content == stored


# -- update and delete ---------------------------------------------------------------------
def test_update_makes_new_versions(repo):
    first = repo.create(patient(active=True), id="p1")
    second, created = repo.update(patient(id="p1", active=False))
    assert not created and second.version_id == 2 and second.method == "PUT"
    assert second.last_updated > first.last_updated
    assert body(repo.read("Patient", "p1"))["active"] is False
    assert body(repo.vread("Patient", "p1", 1))["active"] is True
    third, _ = repo.update(patient(id="p1"), method="PATCH")
    assert (third.version_id, third.method) == (3, "PATCH")


def test_update_as_create(repo):
    version, created = repo.update(patient(id="new-one", active=True))
    assert created and version.version_id == 1 and version.method == "PUT"
    assert repo.read("Patient", "new-one") == version


def test_if_match(repo):
    repo.create(patient(), id="p1")
    version, _ = repo.update(patient(id="p1"), if_match=1)
    assert version.version_id == 2
    with pytest.raises(PreconditionFailed):
        repo.update(patient(id="p1"), if_match=1)
    with pytest.raises(PreconditionFailed):
        repo.update(patient(id="absent"), if_match=1)
    assert repo.read("Patient", "absent") is None
    assert repo.read("Patient", "p1").version_id == 2


def test_delete_leaves_a_tombstone(repo):
    repo.create(patient(identifier=[{"system": "urn:s", "value": "x"}]), id="p1")
    deleted = repo.delete("Patient", "p1")
    assert deleted.version_id == 2 and deleted.deleted and deleted.method == "DELETE"
    current = repo.read("Patient", "p1")
    assert current.deleted and current.version_id == 2 and current.content is None
    assert repo.vread("Patient", "p1", 1).content is not None
    assert repo.vread("Patient", "p1", 2).deleted
    assert repo.delete("Patient", "p1") is None  # already deleted
    assert repo.delete("Patient", "never") is None
    assert repo.search("Patient", query(("identifier", "urn:s|x"))).total == 0
    assert repo.search("Patient", query()).total == 0


def test_delete_with_if_match(repo):
    repo.create(patient(), id="p1")
    with pytest.raises(PreconditionFailed):
        repo.delete("Patient", "p1", if_match=7)
    assert not repo.read("Patient", "p1").deleted
    assert repo.delete("Patient", "p1", if_match=1).version_id == 2


def test_update_after_delete_continues_the_versions(repo):
    repo.create(patient(), id="p1")
    repo.delete("Patient", "p1")
    with pytest.raises(PreconditionFailed):
        repo.update(patient(id="p1"), if_match=2)  # a deletion is no version to match
    version, created = repo.update(patient(id="p1", active=True))
    assert created and version.version_id == 3
    with pytest.raises(Conflict):
        repo.create(patient(), id="p1")


# -- history ----------------------------------------------------------------------------------
def _three_resources_with_history(repo):
    repo.create(patient(), id="a")
    repo.create(patient(), id="b")
    repo.update(patient(id="a"))
    repo.create({"resourceType": "Observation"}, id="o")
    repo.delete("Patient", "b")


def test_history_instance_type_system(repo):
    _three_resources_with_history(repo)
    instance = repo.history("Patient", "a")
    assert [(v.id, v.version_id) for v in instance.entries] == [("a", 2), ("a", 1)]
    assert instance.total == 2
    type_level = repo.history("Patient")
    assert [(v.id, v.version_id) for v in type_level.entries] == [("b", 2), ("a", 2), ("b", 1), ("a", 1)]
    assert type_level.entries[0].deleted
    system = repo.history()
    assert system.total == 5
    assert [(v.type, v.id, v.version_id) for v in system.entries][:2] == [("Patient", "b", 2), ("Observation", "o", 1)]
    assert repo.history("Patient", "zzz").entries == [] and repo.history("Patient", "zzz").total == 0


def test_history_count_offset_since_at(repo):
    _three_resources_with_history(repo)
    everything = repo.history()
    page = repo.history(count=2, offset=1)
    assert page.entries == everything.entries[1:3] and page.total == 5
    assert repo.history(count=2, offset=4).entries == everything.entries[4:]
    assert repo.history(count=2, offset=10).entries == []
    # since: versions at or after an instant (oldest first in `everything` reversed)
    oldest_first = list(reversed(everything.entries))
    since = repo.history(since=oldest_first[2].last_updated)
    assert since.entries == everything.entries[:3] and since.total == 3
    # at: per resource, the version current at that instant
    at = repo.history(at=oldest_first[2].last_updated)  # after a@2, before o@1 and b's delete
    assert sorted((v.id, v.version_id) for v in at.entries) == [("a", 2), ("b", 1)]
    assert repo.history("Patient", "a", at=oldest_first[0].last_updated).entries[0].version_id == 1


# -- search ----------------------------------------------------------------------------------
def _people(repo):
    repo.create(patient(identifier=[{"system": "urn:fnr", "value": "111"}, {"value": "plain"}]), id="p1")
    repo.create(patient(identifier=[{"system": "urn:fnr", "value": "222"}]), id="p2")
    repo.create(patient(identifier=[{"system": "urn:hpr", "value": "111"}]), id="p3")
    repo.create({"resourceType": "Observation", "identifier": [{"system": "urn:fnr", "value": "111"}]}, id="o1")


def test_supported_search_params(repo):
    supported = repo.supported_search_params("Patient")
    # what this suite relies on; the search issue's registry adds the rest
    assert {name: supported.get(name) for name in ("_id", "_lastUpdated", "identifier")} == {
        "_id": "token", "_lastUpdated": "date", "identifier": "token"}


def test_search_by_id(repo):
    _people(repo)
    assert ids(repo.search("Patient", query(("_id", "p2")))) == ["p2"]
    assert sorted(ids(repo.search("Patient", query(("_id", "p1,p3,nope"))))) == ["p1", "p3"]
    assert repo.search("Patient", query(("_id", "o1"))).total == 0


@pytest.mark.parametrize("value, expected", [
    ("urn:fnr|111", ["p1"]),
    ("111", ["p1", "p3"]),
    ("urn:fnr|", ["p1", "p2"]),
    ("|plain", ["p1"]),
    ("|111", []),
    ("urn:fnr|222,urn:hpr|111", ["p2", "p3"]),
    ("urn:nope|111", []),
])
def test_search_by_identifier(repo, value, expected):
    _people(repo)
    assert sorted(ids(repo.search("Patient", query(("identifier", value))))) == expected


def test_search_and_across_parameters_and_system_level(repo):
    _people(repo)
    assert ids(repo.search("Patient", query(("identifier", "111"), ("_id", "p3")))) == ["p3"]
    assert ids(repo.search("Patient", query(("identifier", "urn:fnr|111"), ("_id", "p2")))) == []
    # a system-level search takes the parameters common to all types (search.html#all)
    both = repo.search(None, query(("_id", "p1,o1")))
    assert sorted((v.type, v.id) for v in both.entries) == [("Observation", "o1"), ("Patient", "p1")]


def test_search_follows_updates(repo):
    _people(repo)
    repo.update(patient(id="p1", identifier=[{"system": "urn:fnr", "value": "999"}]))
    assert ids(repo.search("Patient", query(("identifier", "urn:fnr|999")))) == ["p1"]
    assert ids(repo.search("Patient", query(("identifier", "urn:fnr|111")))) == []


def test_search_by_last_updated(repo):
    for n in range(3):
        repo.create(patient(), id=f"p{n}")
        time.sleep(0.002)
    stamps = [repo.read("Patient", f"p{n}").last_updated for n in range(3)]
    middle = stamps[1]

    def found(value):
        return sorted(ids(repo.search("Patient", query(("_lastUpdated", value)))))

    assert found(f"gt{middle}") == ["p2"]
    assert found(f"ge{middle}") == ["p1", "p2"]
    assert found(f"lt{middle}") == ["p0"]
    assert found(f"le{middle}") == ["p0", "p1"]
    assert found(middle) == ["p1"] and found(f"eq{middle}") == ["p1"]
    assert found(f"ge{stamps[0]}&x".split("&")[0]) == ["p0", "p1", "p2"]
    assert found("lt2000-01-01") == [] and found("gt2000-01-01T00:00:00Z") == ["p0", "p1", "p2"]
    assert found(f"lt{stamps[0]},gt{stamps[1]}") == ["p2"]  # values OR together


def test_search_paging_total_and_order(repo):
    with repo.transaction():
        for n in range(7):
            repo.create(patient(), id=f"p{n}")
    whole = repo.search("Patient", query(count=100))
    assert whole.total == 7 and len(whole.entries) == 7
    again = repo.search("Patient", query(count=100))
    assert ids(again) == ids(whole)  # a stable order
    pages = [ids(repo.search("Patient", query(count=3, offset=o))) for o in (0, 3, 6)]
    assert sum(pages, []) == ids(whole)
    page = repo.search("Patient", query(count=3, offset=3))
    assert page.total == 7
    assert repo.search("Patient", query(count=3, total="none")).total is None
    assert repo.search("Patient", query(count=0)).total == 7
    assert repo.search("Patient", query(count=3, offset=50)).entries == []
    assert repo.search("Observation", query()).total == 0


def test_search_unknown_parameter_is_bad_request(repo):
    repo.create(patient(), id="p1")  # (the memory fake checks parameters per resource)
    with pytest.raises(BadRequest):
        repo.search("Patient", query(("nonsense", "x")))


def test_odd_values_are_stored_or_refused_never_a_crash(repo):
    # PostgreSQL text cannot hold NUL: such a write is a 400 there, and stored elsewhere
    try:
        repo.create(patient(identifier=[{"system": "urn:x", "value": "a\x00b"}]), id="nul")
    except BadRequest:
        assert repo.read("Patient", "nul") is None
    try:
        repo.search("Patient", query(("identifier", "urn:x|a\x00b")))
    except BadRequest:
        pass
    for count, offset in ((10, 2**70), (2**70, 0)):
        try:
            repo.search("Patient", query(count=count, offset=offset))
            repo.history(count=count, offset=offset)
        except BadRequest:
            pass


# -- transactions -----------------------------------------------------------------------------
def test_transaction_commits_together_and_reads_see_own_writes(repo):
    with repo.transaction():
        repo.create(patient(identifier=[{"system": "urn:t", "value": "1"}]), id="t1")
        assert repo.read("Patient", "t1").version_id == 1
        repo.update(patient(id="t1"))
        assert repo.read("Patient", "t1").version_id == 2
        assert repo.history("Patient", "t1").total == 2
    assert repo.read("Patient", "t1").version_id == 2


def test_transaction_rolls_back_everything(repo):
    repo.create(patient(), id="keep")
    with pytest.raises(RuntimeError):
        with repo.transaction():
            repo.create(patient(identifier=[{"system": "urn:t", "value": "1"}]), id="t1")
            repo.update(patient(id="keep", active=False))
            repo.delete("Patient", "keep")
            raise RuntimeError("boom")
    assert repo.read("Patient", "t1") is None
    assert repo.read("Patient", "keep").version_id == 1
    assert repo.history().total == 1
    assert repo.search("Patient", query(("identifier", "urn:t|1"))).total == 0
    repo.create(patient(), id="t1")  # the rolled-back id is free


def test_nested_transactions_join_the_outer(repo):
    with pytest.raises(ValueError):
        with repo.transaction():
            repo.create(patient(), id="outer")
            with repo.transaction():
                repo.create(patient(), id="inner")
            assert repo.read("Patient", "inner") is not None
            raise ValueError("outer fails after the inner block finished")
    assert repo.read("Patient", "outer") is None and repo.read("Patient", "inner") is None
    with repo.transaction():
        with repo.transaction():
            repo.create(patient(), id="inner")
    assert repo.read("Patient", "inner") is not None


def test_failed_write_in_transaction_rolls_back(repo):
    repo.create(patient(), id="dup")
    with pytest.raises(Conflict):
        with repo.transaction():
            repo.create(patient(), id="fresh")
            repo.create(patient(), id="dup")
    assert repo.read("Patient", "fresh") is None


def test_a_clash_of_generated_ids_is_still_a_conflict(repo, monkeypatch):
    # PostgreSQL checks creates with generated ids at commit (storage/postgres): same outcome
    import ehelse.storage.memory
    import ehelse.storage.sqlrepo

    for module in (ehelse.storage.memory, ehelse.storage.sqlrepo):
        monkeypatch.setattr(module, "new_id", lambda: "same")
    with pytest.raises(Conflict):
        with repo.transaction():
            repo.create(patient())
            repo.create({"resourceType": "Observation"})  # other type: no clash
            repo.create(patient())
    assert repo.read("Patient", "same") is None and repo.read("Observation", "same") is None


# -- concurrency -----------------------------------------------------------------------------
def _in_threads(n, work):
    barrier = threading.Barrier(n)
    results, errors = [], []

    def run(i):
        barrier.wait()
        try:
            results.append(work(i))
        except Exception as exc:  # noqa: BLE001 - collected and asserted on
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results, errors


def test_concurrent_if_match_updates_have_one_winner(repo):
    repo.create(patient(), id="race")
    results, errors = _in_threads(8, lambda i: repo.update(patient(id="race", gender=str(i)), if_match=1))
    assert len(results) == 1
    assert len(errors) == 7 and all(isinstance(e, PreconditionFailed) for e in errors)
    assert repo.read("Patient", "race").version_id == 2


def test_concurrent_plain_updates_lose_nothing(repo):
    repo.create(patient(), id="race")
    per_thread = 5

    def work(i):
        return [repo.update(patient(id="race", gender=f"{i}-{n}"))[0].version_id for n in range(per_thread)]

    results, errors = _in_threads(6, work)
    assert errors == []
    versions = sorted(v for r in results for v in r)
    assert versions == list(range(2, 2 + 6 * per_thread))
    assert repo.read("Patient", "race").version_id == 1 + 6 * per_thread
    history = repo.history("Patient", "race", count=100)
    assert sorted(v.version_id for v in history.entries) == list(range(1, 2 + 6 * per_thread))
    genders = {body(v)["gender"] for v in history.entries if v.version_id > 1}
    assert len(genders) == 6 * per_thread  # every write is there


def test_concurrent_update_as_create_of_one_id(repo):
    results, errors = _in_threads(4, lambda i: repo.update(patient(id="fresh")))
    assert errors == []
    assert sum(created for _, created in results) == 1
    assert sorted(v.version_id for v, _ in results) == [1, 2, 3, 4]


# -- the rest ----------------------------------------------------------------------------------
def test_signing_keys_newest_first(repo):
    assert repo.signing_keys() == []
    repo.add_signing_key({"kid": "k1", "kty": "EC", "d": "secret"})
    repo.add_signing_key({"kid": "k2", "kty": "EC", "d": "secret2"})
    keys = repo.signing_keys()
    assert [k["kid"] for k in keys] == ["k2", "k1"]
    assert keys[1] == {"kid": "k1", "kty": "EC", "d": "secret"}


def test_iter_current_streams_in_order(repo):
    with repo.transaction():
        for n in range(1100):  # more than one keyset page of the SQL backends
            repo.create({"resourceType": "Observation"}, id=f"o{n:04d}")
        repo.create(patient(), id="b")
        repo.create(patient(), id="a")
        repo.create(patient(), id="gone")
    repo.delete("Patient", "gone")
    repo.update(patient(id="a", active=True))
    everything = list(repo.iter_current())
    keys = [(v.type, v.id) for v in everything]
    assert keys == sorted(keys) and len(keys) == 1102
    assert ("Patient", "gone") not in keys
    patients = list(repo.iter_current("Patient"))
    assert [(v.id, v.version_id) for v in patients] == [("a", 2), ("b", 1)]
    assert list(repo.iter_current("Encounter")) == []


def test_types_present(repo):
    assert repo.types_present() == []
    repo.create(patient(), id="p")
    repo.create({"resourceType": "Observation"}, id="o")
    repo.create({"resourceType": "Encounter"}, id="e")
    repo.delete("Encounter", "e")
    assert repo.types_present() == ["Observation", "Patient"]


def test_ping_and_migrations(repo):
    repo.ping()
    assert repo.migrations_current()
