"""Writing a seed: every backend takes it, the report adds up, the validation sample is
clean, and `ehelse seed` runs with its report."""

from __future__ import annotations

import pytest
import typer
from seedsupport import REFERENCE_DATE
from typer.testing import CliRunner

from ehelse.nobasis.seed import DEMO_CAST, seed
from ehelse.storage import SearchParam, SearchQuery


def test_seed_writes_what_it_reports(repo):
    progress: list[tuple[int, int]] = []
    report = seed(repo, 22, 3, lambda done, total: progress.append((done, total)), reference_date=REFERENCE_DATE,
                  validate_every=0)
    assert report.patients == 22 and progress[-1] == (22, 22)
    assert [d for d, _ in progress] == sorted(d for d, _ in progress)
    assert report.resources["Patient"] == 22
    for type_, count in report.resources.items():
        assert sum(1 for _ in repo.iter_current(type_)) == count, type_
    assert report.resources_per_patient == report.total / 22 > 30
    assert report.seconds > 0 and report.seconds_per_1000_patients == report.seconds * 1000 / 22
    kari = DEMO_CAST["kari"]
    page = repo.search("Patient", SearchQuery([SearchParam("identifier", None, (f"urn:oid:2.16.578.1.12.4.1.4.1|{kari.fnr}",))]))
    assert [v.id for v in page.entries] == [kari.id]


def test_sqlite_size_is_reported(sqlite_url):
    from ehelse.storage import open_repository

    repo = open_repository(sqlite_url)
    repo.upgrade()
    try:
        report = seed(repo, 5, 1, reference_date=REFERENCE_DATE, validate_every=0)
    finally:
        repo.close()
    assert report.database_bytes and report.database_bytes > 100_000


def test_the_validation_sample_is_clean():
    """Every 7th resource of a seed with the cast goes through the validator: no errors."""
    from ehelse.storage.memory import MemoryRepository

    report = seed(MemoryRepository(), 25, 5, reference_date=REFERENCE_DATE, validate_every=7)
    assert report.validated >= report.total // 7
    assert report.findings == [], "\n".join(map(str, report.findings[:20]))


def test_the_validation_sample_reports_errors():
    """A builder that writes something invalid shows up as a finding, not as a crash."""
    from ehelse.nobasis.seed import dialogue
    from ehelse.nobasis.seed.writer import BatchWriter
    from ehelse.storage.memory import MemoryRepository

    broken = list(dialogue.questionnaires(REFERENCE_DATE))
    broken[0]["status"] = "finished"  # not a PublicationStatus
    writer = BatchWriter(MemoryRepository(), validate_every=1)
    writer.add_all(broken)
    writer.flush()
    assert len(writer.findings) >= 1 and str(writer.findings[0]).startswith("Questionnaire/egenrapport-blodtrykk")
    assert writer.counts["Questionnaire"] == 2  # written all the same: the report is where it shows


def test_negative_patients_is_refused():
    from ehelse.storage.memory import MemoryRepository

    with pytest.raises(ValueError):
        seed(MemoryRepository(), -1, 1)


def test_cli_seed_prints_a_report(sqlite_url):
    from ehelse.cli.seed import seed as seed_command

    app = typer.Typer()
    app.command()(seed_command)
    result = CliRunner().invoke(app, ["--patients", "20", "--seed", "4", "--database", sqlite_url,
                                      "--reference-date", "2026-11-27"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Seeded 20 patients" in result.output and "per 1,000 patients" in result.output
    assert "0 error(s)" in result.output
    bad = CliRunner().invoke(app, ["--reference-date", "27.11.2026", "--database", sqlite_url])
    assert bad.exit_code == 1 and "YYYY-MM-DD" in bad.output


def test_every_resource_of_a_small_seed_validates():
    """Not only the sample: every resource of a 25-patient seed (with the cast) against R4
    and the no-basis profiles it claims. Warnings (no narrative, national value sets we do not
    have) are allowed; errors are not."""
    from ehelse.fhir.validation import validate
    from ehelse.nobasis.seed import generate

    errors = [f"{r['resourceType']}/{r['id']}: {issue.expression}: {issue.diagnostics}"
              for chunk, _ in generate(25, 11, REFERENCE_DATE) for r in chunk
              for issue in validate(r) if issue.is_error]
    assert errors == [], "\n".join(errors[:20])


def test_a_backend_with_create_many_gets_whole_batches():
    from ehelse.nobasis.seed.writer import BatchWriter
    from ehelse.storage.memory import MemoryRepository

    class Bulk(MemoryRepository):
        def __init__(self):
            super().__init__()
            self.batches: list[int] = []

        def create_many(self, resources):
            self.batches.append(len(resources))
            for resource in resources:
                self.create(resource, id=resource["id"])

    repo = Bulk()
    writer = BatchWriter(repo, batch_size=100, validate_every=0)
    writer.add_all({"resourceType": "Basic", "id": f"b{i}", "code": {"text": "x"}} for i in range(250))
    writer.flush()
    assert repo.batches == [100, 100, 50] and writer.counts["Basic"] == 250
    assert repo.read("Basic", "b249") is not None
