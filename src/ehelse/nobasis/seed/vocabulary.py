"""The systems, profiles and codes the synthetic population is written with.

One place for every URL the seed puts in a resource, so that access rules and portals can
import the same constants (DOMAIN.md, "How the rules are written in FHIR"). Codes are small
fixed sets we are sure of; the terminology package ships the demo CodeSystems themselves.

Our own code systems (consent categories, fullmakt service areas, security labels) live under
`EHELSE_CS`; they are the project's, not national ones, and are documented in docs/demo-cast.md.
"""

from __future__ import annotations

# -- identifier systems (DOMAIN.md, "Identifiers"; the OID form is the canonical one we store) --
FNR = "urn:oid:2.16.578.1.12.4.1.4.1"
DNR = "urn:oid:2.16.578.1.12.4.1.4.2"
HPR = "urn:oid:2.16.578.1.12.4.1.4.4"
ENH = "urn:oid:2.16.578.1.12.4.1.4.101"  # organisasjonsnummer
RESH = "urn:oid:2.16.578.1.12.4.1.4.102"

# -- no-basis 2.2.3 profiles and extensions (package hl7.fhir.no.basis, StructureDefinition.url) --
PROFILE = "http://hl7.no/fhir/ig/StructureDefinition/no-basis-"  # + Patient, Organization, ...
EXT_ADDRESS_OFFICIAL = "http://hl7.no/fhir/StructureDefinition/no-basis-address-official"
EXT_MUNICIPALITY = "http://hl7.no/fhir/StructureDefinition/no-basis-municipalitycode"
EXT_PERSON_REFERENCE = "http://hl7.no/fhir/StructureDefinition/no-basis-relatedperson-person-reference"
KOMMUNENUMMER = "https://register.geonorge.no/subregister/sosi-kodelister/kartverket/kommunenummer-alle"
PARENTAL_RESPONSIBILITY = "http://hl7.no/fhir/CodeSystem/no-basis-parental-responsibility"
FAMILY_RELATION = "http://hl7.no/fhir/CodeSystem/no-basis-family-relation"
DOCUMENT_TYPE = "urn:oid:2.16.578.1.12.4.1.1.9602"  # no-basis-documentreference-type's system
HEALTH_PERSONNEL_CATEGORY = "urn:oid:2.16.578.1.12.4.1.1.9060"

# -- national code systems (DOMAIN.md, "Code systems") ---------------------------------------
ICPC2 = "urn:oid:2.16.578.1.12.4.1.1.7170"
ICD10 = "urn:oid:2.16.578.1.12.4.1.1.7110"
ATC = "urn:oid:2.16.578.1.12.4.1.1.7180"
NLK = "urn:oid:2.16.578.1.12.4.1.1.7280"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"

# -- HL7 terminology used by the R4 core bindings -------------------------------------------
V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
V3_ROLE_CODE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
V3_CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
V3_PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
ALLERGY_VERIFICATION = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
FLAG_CATEGORY = "http://terminology.hl7.org/CodeSystem/flag-category"
LIST_CODE = "http://terminology.hl7.org/CodeSystem/list-example-use-codes"

# -- the project's own code systems ------------------------------------------------------------
EHELSE_CS = "http://ehelse.example/fhir/CodeSystem/"
CONSENT_CATEGORY = EHELSE_CS + "consent-category"
FULLMAKT_AREA = EHELSE_CS + "fullmakt-service-area"
SECURITY_LABEL = EHELSE_CS + "security-label"

# Consent.category codes: which Helsenorge rule a Consent records.
CONSENT_FULLMAKT = ("fullmakt", "Fullmakt")
CONSENT_LACK_OF_CAPACITY = ("lack-of-capacity", "Manglende samtykkekompetanse (nærmeste pårørende)")
CONSENT_BLOCK = ("block", "Blokkering av navngitt helsepersonell")
CONSENT_RESTRICTION = ("restriction", "Sperring av opplysninger i kjernejournal")
CONSENT_RESERVATION = ("reservation", "Reservasjon mot kjernejournal")
# The patient's choice of notice when personnel use emergency access (access/care.py reads
# it): provision.type deny = no notice message; none or permit = notified (the default).
CONSENT_EMERGENCY_NOTICE = ("emergency-notification", "Varsel ved akuttilgang (nødrett)")

# Fullmakt service areas (Consent.provision.purpose). Only the one DOMAIN.md names.
AREA_DIGITAL_SERVICES = ("3", "Digitale helsetjenester")

# meta.security labels. Withheld / restricted / confidential address are ours; the
# confidentiality codes R and V from HL7 v3 travel beside them for generic clients.
LABEL_WITHHELD_FROM_PARENTS = ("withheld-from-parents", "Skjermet for foreldre")
LABEL_RESTRICTED = ("restricted-by-patient", "Sperret av pasienten")
LABEL_CONFIDENTIAL_ADDRESS = ("fortrolig-adresse", "Fortrolig adresse (kode 7)")
LABEL_STRICTLY_CONFIDENTIAL_ADDRESS = ("strengt-fortrolig-adresse", "Strengt fortrolig adresse (kode 6)")
CONFIDENTIALITY_RESTRICTED = ("R", "restricted")
CONFIDENTIALITY_VERY_RESTRICTED = ("V", "very restricted")


def profile(name: str) -> str:
    """The no-basis profile URL for a resource type (the `ig` form the package declares)."""
    return PROFILE + name


def label(system: str, pair: tuple[str, str]) -> dict[str, str]:
    code, display = pair
    return {"system": system, "code": code, "display": display}


# -- clinical codes (Norwegian displays) ---------------------------------------------------------
# ICPC-2: reasons for GP contacts, with a weight for how often they occur in the seed.
ICPC2_CONTACTS: tuple[tuple[str, str, int], ...] = (
    ("R74", "Akutt øvre luftveisinfeksjon", 12),
    ("R78", "Akutt bronkitt/bronkiolitt", 4),
    ("R05", "Hoste", 5),
    ("A03", "Feber", 4),
    ("L03", "Korsryggsymptomer/plager", 8),
    ("N01", "Hodepine", 4),
    ("P76", "Depresjon", 4),
    ("P74", "Angstlidelse", 3),
    ("H71", "Akutt mellomørebetennelse", 3),
    ("U71", "Cystitt/urinveisinfeksjon", 5),
    ("S88", "Kontaktdermatitt/allergisk dermatitt", 3),
    ("D73", "Gastroenteritt antatt infeksiøs", 3),
    ("L90", "Kneartrose", 3),
    ("A98", "Helsefremmende tiltak/forebygging", 6),
)

# The four chronic conditions the issue names: ICPC-2 at the GP, ICD-10 at the hospital.
CHRONIC = {
    "diabetes": {"icpc2": ("T90", "Diabetes type 2"), "icd10": ("E11", "Diabetes mellitus type 2")},
    "copd": {"icpc2": ("R95", "Kronisk obstruktiv lungesykdom"),
             "icd10": ("J44", "Annen kronisk obstruktiv lungesykdom")},
    "heart_failure": {"icpc2": ("K77", "Hjertesvikt"), "icd10": ("I50", "Hjertesvikt")},
    "hypertension": {"icpc2": ("K86", "Hypertensjon ukomplisert"),
                     "icd10": ("I10", "Essensiell (primær) hypertensjon")},
}

# ICD-10 (three-character categories) for hospital stays, with a weight.
ICD10_ADMISSIONS: tuple[tuple[str, str, int], ...] = (
    ("J18", "Pneumoni med uspesifisert mikroorganisme", 6),
    ("I21", "Akutt hjerteinfarkt", 3),
    ("I48", "Atrieflimmer og atrieflutter", 3),
    ("I63", "Hjerneinfarkt", 2),
    ("S72", "Brudd i lårben", 3),
    ("K35", "Akutt appendisitt", 2),
    ("N39", "Andre sykdommer i urinveiene", 2),
)

# ATC: (code, Norwegian name, dosage text).
ATC_MEDICINES = {
    "metformin": ("A10BA02", "Metformin", "1 tablett 2 ganger daglig"),
    "insulin_glargine": ("A10AE04", "Insulin glargin", "Etter avtale, kveld"),
    "enalapril": ("C09AA02", "Enalapril", "1 tablett daglig"),
    "ramipril": ("C09AA05", "Ramipril", "1 tablett daglig"),
    "losartan": ("C09CA01", "Losartan", "1 tablett daglig"),
    "amlodipine": ("C08CA01", "Amlodipin", "1 tablett daglig"),
    "metoprolol": ("C07AB02", "Metoprolol", "1 tablett daglig"),
    "furosemide": ("C03CA01", "Furosemid", "1 tablett om morgenen"),
    "atorvastatin": ("C10AA05", "Atorvastatin", "1 tablett om kvelden"),
    "simvastatin": ("C10AA01", "Simvastatin", "1 tablett om kvelden"),
    "salbutamol": ("R03AC02", "Salbutamol", "1-2 inhalasjoner ved behov"),
    "tiotropium": ("R03BB04", "Tiotropiumbromid", "1 inhalasjon daglig"),
    "salmeterol_fluticasone": ("R03AK06", "Salmeterol og flutikason", "1 inhalasjon 2 ganger daglig"),
    "acetylsalicylic_acid": ("B01AC06", "Acetylsalisylsyre", "1 tablett daglig"),
    "paracetamol": ("N02BE01", "Paracetamol", "1 g inntil 3 ganger daglig ved behov"),
    "omeprazole": ("A02BC01", "Omeprazol", "1 kapsel daglig"),
    "penicillin_v": ("J01CE02", "Fenoksymetylpenicillin", "1 tablett 4 ganger daglig i 7 dager"),
    "sertraline": ("N06AB06", "Sertralin", "1 tablett daglig"),
    "levothyroxine": ("H03AA01", "Levotyroksinnatrium", "1 tablett daglig"),
    "contraceptive": ("G03AA07", "Levonorgestrel og etinyløstradiol", "1 tablett daglig"),
}

# Which medicines go with which chronic condition.
CHRONIC_MEDICINES = {
    "diabetes": ("metformin", "atorvastatin"),
    "copd": ("tiotropium", "salbutamol"),
    "heart_failure": ("furosemide", "metoprolol", "ramipril"),
    "hypertension": ("amlodipine", "losartan", "enalapril"),
}
