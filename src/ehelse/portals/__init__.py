"""The web portals: server-rendered pages over the same router, repository and access rules
as the FHIR API (DESIGN.md, principle 3). `ui/` is the foundation both portals share;
`citizen/` is /innbygger (strategy goal 1); `clinician/` is /helsepersonell (goal 2)."""
