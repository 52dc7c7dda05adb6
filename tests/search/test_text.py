"""_text and _content (search.html#text, #content) through the router on both backends:
words of the narrative / of every string, case-, accent- and Norwegian-letter-insensitive."""

from __future__ import annotations

from support import RouterClient, bundle_ids


def narrative(text: str) -> dict:
    return {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{text}</div>'}


def test_text_and_content(sql_repo):
    sql_repo.update({"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"},
                     "text": narrative("Pasienten har høyt blodtrykk"), "code": {"text": "Hypertensjon"}})
    sql_repo.update({"resourceType": "Condition", "id": "c2", "subject": {"reference": "Patient/p1"},
                     "text": narrative("Astma hos barn"), "code": {"text": "Astma i Ærøskøbing"}})
    client = RouterClient(sql_repo)
    assert bundle_ids(client.get("Condition", query=[("_text", "blodtrykk")])) == ["c1"]
    assert bundle_ids(client.get("Condition", query=[("_text", "HOYT")])) == ["c1"]
    assert bundle_ids(client.get("Condition", query=[("_text", "hypertensjon")])) == []  # not in the narrative
    assert bundle_ids(client.get("Condition", query=[("_content", "hypertensjon")])) == ["c1"]
    assert bundle_ids(client.get("Condition", query=[("_content", "aeroskobing")])) == ["c2"]
    assert sorted(bundle_ids(client.get("Condition", query=[("_content", "astma,hypertensjon")]))) == ["c1", "c2"]


def test_norwegian_stemming_finds_other_forms_of_a_word(sql_repo):
    """search/fulltext.py: the query's words are stemmed (Snowball Norwegian) and match as
    word starts, so a search for one form of a word finds the others."""
    sql_repo.update({"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "BT"},
                     "text": narrative("Blodtrykket var høyt hos pasientene; hjertet slo raskt")})
    sql_repo.update({"resourceType": "Observation", "id": "o2", "status": "final", "code": {"text": "Puls"},
                     "text": narrative("Blodtrykk målt. Legen kontrollerte hjertefrekvensen.")})
    sql_repo.update({"resourceType": "Observation", "id": "o3", "status": "final", "code": {"text": "Vekt"},
                     "text": narrative("Vekt 80 kg")})
    client = RouterClient(sql_repo)

    def text(value: str, param: str = "_text") -> list[str]:
        return sorted(bundle_ids(client.get("Observation", query=[(param, value)])))

    assert text("blodtrykk") == ["o1", "o2"]      # "blodtrykket" is a form of "blodtrykk"
    assert text("blodtrykket") == ["o1", "o2"]    # and the other way round
    assert text("blodtrykkene") == ["o1", "o2"]
    assert text("pasient") == ["o1"]              # "pasientene"
    assert text("hjertet") == ["o1", "o2"]        # "hjertet" and "hjertefrekvensen" start with "hjert"
    assert text("leger") == ["o2"]                # "legen"
    assert text("hoyt blodtrykk") == ["o1"]       # every word must match
    assert text("malt") == ["o2"]                 # å folds to a
    assert text("vekt,puls") == ["o3"]            # OR over values; "puls" is only in o2's code, not its narrative
    assert text("vekt,puls", "_content") == ["o2", "o3"]
    assert text("frekvens") == []                 # a word start, not inside a word
    assert text("kg") == ["o3"]


def test_content_folds_norwegian_letters_and_searches_every_type(sql_repo):
    sql_repo.update({"resourceType": "Patient", "id": "p1", "name": [{"family": "Østby", "given": ["Åse"]}],
                     "address": [{"city": "Ærøskøbing"}]})
    sql_repo.update({"resourceType": "Patient", "id": "p2", "name": [{"family": "Hansen"}]})
    sql_repo.update({"resourceType": "Practitioner", "id": "pr1", "name": [{"family": "Østbye"}]})
    client = RouterClient(sql_repo)
    assert bundle_ids(client.get("Patient", query=[("_content", "ostby")])) == ["p1"]
    assert bundle_ids(client.get("Patient", query=[("_content", "ØSTBY")])) == ["p1"]
    assert bundle_ids(client.get("Patient", query=[("_content", "ase aeroskobing")])) == ["p1"]
    assert bundle_ids(client.get("Patient", query=[("_content", "ase hansen")])) == []
    # system search: every type that has the word
    found = bundle_ids(client.get("", query=[("_content", "ostby"), ("_type", "Patient,Practitioner")]))
    assert sorted(found) == ["p1", "pr1"]
    assert sorted(bundle_ids(client.get("Patient", query=[("_text:missing", "true")]))) == ["p1", "p2"]


def test_the_index_follows_updates_and_deletes(sql_repo):
    sql_repo.update({"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"},
                     "text": narrative("Astma")})
    client = RouterClient(sql_repo)
    assert bundle_ids(client.get("Condition", query=[("_text", "astma")])) == ["c1"]
    sql_repo.update({"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"},
                     "text": narrative("Migrene")})
    assert bundle_ids(client.get("Condition", query=[("_text", "astma")])) == []
    assert bundle_ids(client.get("Condition", query=[("_text", "migrene")])) == ["c1"]
    sql_repo.delete("Condition", "c1")
    assert bundle_ids(client.get("Condition", query=[("_text", "migrene")])) == []
    if sql_repo.backend == "sqlite":  # FTS5's own check of its index structure
        with sql_repo._writing() as conn:
            sql_repo._exec(conn, "INSERT INTO text_fts (text_fts) VALUES ('integrity-check')")


def test_narrative_markup_and_character_references(sql_repo):
    sql_repo.update({"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"},
                     "text": narrative("<b>Kols</b><br/>hos &Oslash;stby, r&oslash;yker")})
    client = RouterClient(sql_repo)
    assert bundle_ids(client.get("Condition", query=[("_text", "kols hos")])) == ["c1"]
    assert bundle_ids(client.get("Condition", query=[("_text", "ostby royker")])) == ["c1"]
    assert bundle_ids(client.get("Condition", query=[("_text", "div")])) == []  # markup is not text


def test_values_that_are_not_words_are_400_and_full_text_syntax_is_not_interpreted(sql_repo):
    sql_repo.update({"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"},
                     "text": narrative("near and or not")})
    client = RouterClient(sql_repo)
    for value in ('"', "*", "-", ":", "'", "&|!"):
        response = client.get("Condition", query=[("_text", value)])
        assert response.status == 400, (value, response.parsed())
        assert response.parsed()["resourceType"] == "OperationOutcome"
    # FTS5 and tsquery operators in a value are plain words here
    for value in ("NEAR", "AND", "or", "NOT", '"and" OR*', "near(and)", "not:*", "and & or"):
        assert bundle_ids(client.get("Condition", query=[("_text", value)])) == ["c1"], value
    assert bundle_ids(client.get("Condition", query=[("_text", "text:near")])) == []


def test_the_stem_of_a_norwegian_word_is_a_prefix_of_the_word():
    """What search/fulltext.py relies on to match stemmed query words against unstemmed text
    words: Snowball Norwegian only removes endings. Checked over inflected words."""
    from ehelse.search.fulltext import stem

    words = ("blodtrykket blodtrykkene hjertet hjerte pasientene legene legen sykehusene undersokelsene "
             "behandlingen behandlingene kontrollert kontrollerte medisinert feberen hodepinen astmaen "
             "vaksinert vaksinasjonene arbeidet heter hetene erte ert ande ende ane ene edes endes enes "
             "elsket elsketes fargerikt lovlig lovlige skrevet gikk gatene barna barnas haes hetslov "
             "elov slov eleg eig elig dt vt bevegelsene rettighetene mulighetenes").split()
    for word in words:
        assert word.startswith(stem(word)), (word, stem(word))
    assert stem("blodtrykket") == stem("blodtrykk") == "blodtrykk"


def test_too_many_full_text_words_in_one_search_are_refused(sql_repo):
    """Each word is an index look-up, in a system search one per resource type: at most
    fulltext.MAX_QUERY_WORDS words over all _text/_content values of one search, counted
    across commas and repeated parameters; more is a 400 OperationOutcome, not seconds of CPU."""
    from ehelse.search.fulltext import MAX_QUERY_WORDS

    sql_repo.update({"resourceType": "Condition", "id": "c1", "text": narrative("Astma hos barn"),
                     "subject": {"reference": "Patient/p1"}})
    client = RouterClient(sql_repo)
    words = [f"w{i}" for i in range(MAX_QUERY_WORDS)]
    assert bundle_ids(client.get("Condition", query=[("_text", " ".join(words))])) == []  # at the limit: searched
    for query in ([("_content", " ".join(words + ["astma"]))],
                  [("_content", ",".join(words[:20])), ("_text", " ".join(words[20:] + ["astma"]))]):
        for path in ("Condition", ""):  # typed and system search
            response = client.get(path, query=query)
            assert response.status == 400, (path, query)
            assert response.resource["issue"][0]["code"] == "too-costly"


def test_full_text_within_one_patient(sql_repo):
    """Beside a patient (a parameter or the compartment) the words are checked per candidate
    row on SQLite (search/execute.py), with the same matching rule as the index: the same
    answers as a search over everyone, filtered to the patient."""
    from ehelse.search.execute import drive_hints
    from ehelse.storage.protocol import SearchParam

    for i, (patient, words) in enumerate([("p1", "Blodtrykket var høyt"), ("p1", "Vekt 80 kg"),
                                          ("p2", "Blodtrykk målt"), ("p1", "Blodtrykkene stabile")]):
        sql_repo.update({"resourceType": "Observation", "id": f"o{i}", "status": "final", "code": {"text": "x"},
                         "subject": {"reference": f"Patient/{patient}"}, "text": narrative(words)})
    client = RouterClient(sql_repo)
    everyone = sorted(bundle_ids(client.get("Observation", query=[("_text", "blodtrykk")])))
    assert everyone == ["o0", "o2", "o3"]
    assert sorted(bundle_ids(client.get("Observation", query=[("patient", "p1"), ("_text", "blodtrykk")]))) == ["o0", "o3"]
    assert sorted(bundle_ids(client.get("Patient/p1/Observation", query=[("_text", "blodtrykk")]))) == ["o0", "o3"]
    assert sorted(bundle_ids(client.get("Observation", query=[("patient", "p1"), ("_text", "hoyt blodtrykk")]))) == ["o0"]
    assert bundle_ids(client.get("Observation", query=[("patient", "p2"), ("_content", "vekt")])) == []

    text = SearchParam("_content", None, ("blodtrykk",))
    patient = SearchParam("patient", None, ("p1",))
    assert [p.drive for p in drive_hints("Observation", [patient, text], False, "sqlite")] == [None, False]
    assert [p.drive for p in drive_hints("Observation", [text], True, "sqlite")] == [False]
    assert drive_hints("Observation", [text], False, "sqlite") == [text]  # alone it is the list to start from
