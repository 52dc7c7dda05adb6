"""FHIR Bulk Data Access v2 export (https://hl7.org/fhir/uv/bulkdata/STU2/export.html).

    request.py   the kick-off parameters, parsed and checked
    kickoff.py   $export at system, Patient and Group level: 202 + Content-Location
    jobs.py      the job table: claims with leases, shared by every server process
    engine.py    one export run, streamed to NDJSON files in bounded memory
    worker.py    the thread that claims and runs jobs, and deletes expired files
    app.py       /bulk/status/{job} (poll, DELETE to cancel) and /bulk/files/{job}/{file}

`ehelse export` (cli/data.py) runs the same engine in the foreground.
"""
