"""Generate the Norwegian demo code systems in src/ehelse/nobasis/terminology/*.json.

    .venv/bin/python scripts/gen_demo_terminology.py

Demo subsets only: the full ICPC-2, ICD-10, ATC and NLK lists are licensed and published by
Direktoratet for e-helse / Helsedirektoratet (FinnKode) and FHI/WHO; load them with
`ehelse terminology load FILE`. Each table row is `code|parent|display`; displays are short
Norwegian titles (not always the official long text). Only codes we are confident of.
"""

from __future__ import annotations

import json
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "src" / "ehelse" / "nobasis" / "terminology"

ICPC2 = """
A||Allment og uspesifisert
B||Blod, bloddannende organer og immunsystemet
D||Fordøyelsessystemet
F||Øye
H||Øre
K||Hjerte-karsystemet
L||Muskel-skjelettsystemet
N||Nervesystemet
P||Psykisk
R||Luftveier
S||Hud
T||Endokrine, metabolske og ernæringsmessige sykdommer
U||Urinveier
W||Svangerskap, fødsel og familieplanlegging
X||Kvinnelige kjønnsorganer (inkl. bryst)
Y||Mannlige kjønnsorganer
Z||Sosiale problemer
A01|A|Smerte generell/flere steder
A02|A|Frysninger
A03|A|Feber
A04|A|Slapphet/tretthet
A05|A|Generell forverrelse
A06|A|Besvimelse/synkope
A11|A|Brystsmerter IKA
A97|A|Ingen sykdom
A98|A|Helsevedlikehold/forebygging
B80|B|Jernmangelanemi
B81|B|Anemi, vitamin B12-/folatmangel
D01|D|Magesmerter/magekrampe generell
D02|D|Magesmerter epigastriske
D06|D|Magesmerter lokaliserte andre
D09|D|Kvalme
D10|D|Oppkast
D11|D|Diaré
D12|D|Forstoppelse
D70|D|Gastrointestinal infeksjon
D73|D|Gastroenteritt antatt infeksiøs
D75|D|Ondartet svulst tykktarm/endetarm
D84|D|Øsofagussykdom
D85|D|Duodenalsår
D86|D|Magesår annet
D88|D|Appendisitt
D93|D|Irritabel tarm-syndrom
D94|D|Kronisk enteritt/ulcerøs kolitt
D98|D|Galleblære-/gallegangsykdom
F70|F|Konjunktivitt infeksiøs
F71|F|Konjunktivitt allergisk
F92|F|Katarakt
F93|F|Glaukom
H01|H|Øresmerte/øreverk
H71|H|Akutt mellomørebetennelse
H81|H|Ørevoks
H86|H|Døvhet/hørselshemming
K01|K|Hjertesmerte
K04|K|Hjertebank/palpitasjoner
K07|K|Hovne ankler/ødem
K74|K|Iskemisk hjertesykdom med angina
K75|K|Akutt hjerteinfarkt
K76|K|Iskemisk hjertesykdom uten angina
K77|K|Hjertesvikt
K78|K|Atrieflimmer/-flutter
K86|K|Hypertensjon ukomplisert
K87|K|Hypertensjon med komplikasjoner
K89|K|Forbigående cerebral iskemi (TIA)
K90|K|Hjerneslag
K92|K|Aterosklerose/perifer karsykdom
K93|K|Lungeemboli
K94|K|Flebitt/tromboflebitt
K95|K|Varicer i bena
K96|K|Hemoroider
L01|L|Nakkesymptomer/-plager
L02|L|Ryggsymptomer/-plager
L03|L|Korsryggsymptomer/-plager
L08|L|Skuldersymptomer/-plager
L15|L|Knesymptomer/-plager
L18|L|Muskelsmerter
L84|L|Ryggsyndrom uten smerteutstråling
L86|L|Ryggsyndrom med smerteutstråling
L88|L|Revmatoid artritt
L89|L|Artrose i hofte
L90|L|Artrose i kne
L91|L|Artrose annen
L92|L|Skuldersyndrom
L95|L|Osteoporose
N01|N|Hodepine
N17|N|Svimmelhet
N79|N|Hjernerystelse
N87|N|Parkinsonisme
N88|N|Epilepsi
N89|N|Migrene
P01|P|Nervøsitet/uro/spenning
P03|P|Nedstemthet
P06|P|Søvnforstyrrelse
P15|P|Kronisk alkoholmisbruk
P70|P|Demens
P72|P|Schizofreni
P74|P|Angstlidelse
P76|P|Depresjon
P81|P|Hyperkinetisk forstyrrelse
R02|R|Kortpustethet/dyspné
R05|R|Hoste
R07|R|Nysing/tett nese
R21|R|Halssymptomer/-plager
R74|R|Akutt øvre luftveisinfeksjon
R75|R|Bihulebetennelse
R76|R|Akutt tonsillitt
R78|R|Akutt bronkitt/bronkiolitt
R80|R|Influensa
R81|R|Lungebetennelse
R84|R|Ondartet svulst bronkier/lunge
R95|R|Kronisk obstruktiv lungesykdom (KOLS)
R96|R|Astma
R97|R|Allergisk rhinitt
S03|S|Vorter
S74|S|Soppinfeksjon i hud
S76|S|Hudinfeksjon annen
S87|S|Atopisk eksem
S88|S|Kontakteksem
S91|S|Psoriasis
S96|S|Akne
T82|T|Fedme
T83|T|Overvekt
T85|T|Hypertyreose/tyreotoksikose
T86|T|Hypotyreose/myksødem
T89|T|Diabetes type 1
T90|T|Diabetes type 2
T92|T|Urinsyregikt
T93|T|Lipidforstyrrelse
U01|U|Smertefull vannlating
U02|U|Hyppig vannlating/vannlatingstrang
U71|U|Cystitt/urinveisinfeksjon annen
U95|U|Urinstein
U99|U|Urinveissykdom annen
W11|W|Prevensjon p-pille
W78|W|Svangerskap
X76|X|Ondartet svulst bryst kvinne
Y77|Y|Ondartet svulst prostata
Y85|Y|Benign prostatahypertrofi
Z05|Z|Problemer med arbeidssituasjon
Z12|Z|Problem i forhold til partner
"""

ICD10 = """
I||Visse infeksjonssykdommer og parasittsykdommer (A00-B99)
II||Svulster (C00-D48)
III||Sykdommer i blod og bloddannende organer og visse tilstander som angår immunsystemet (D50-D89)
IV||Endokrine sykdommer, ernæringssykdommer og metabolske forstyrrelser (E00-E90)
V||Psykiske lidelser og atferdsforstyrrelser (F00-F99)
VI||Sykdommer i nervesystemet (G00-G99)
VII||Sykdommer i øyet og øyets omgivelser (H00-H59)
VIII||Sykdommer i øret og ørebensknuten (H60-H95)
IX||Sykdommer i sirkulasjonssystemet (I00-I99)
X||Sykdommer i åndedrettssystemet (J00-J99)
XI||Sykdommer i fordøyelsessystemet (K00-K93)
XII||Sykdommer i hud og underhud (L00-L99)
XIII||Sykdommer i muskel-skjelettsystemet og bindevev (M00-M99)
XIV||Sykdommer i urin- og kjønnsorganer (N00-N99)
XV||Svangerskap, fødsel og barseltid (O00-O99)
XVI||Visse tilstander som oppstår i perinatalperioden (P00-P96)
XVII||Medfødte misdannelser, deformiteter og kromosomavvik (Q00-Q99)
XVIII||Symptomer, tegn, unormale kliniske funn og laboratoriefunn, ikke klassifisert annet sted (R00-R99)
XIX||Skader, forgiftninger og visse andre konsekvenser av ytre årsaker (S00-T98)
XX||Ytre årsaker til sykdom og død (V01-Y98)
XXI||Faktorer som har betydning for helsetilstand og kontakt med helsetjenesten (Z00-Z99)
XXII||Koder for spesielle formål (U00-U99)
A09|I|Diaré og gastroenteritt av antatt infeksiøs årsak
A41|I|Annen sepsis
A46|I|Erysipelas
B34|I|Virusinfeksjon med uspesifisert lokalisasjon
C18|II|Ondartet svulst i tykktarm
C34|II|Ondartet svulst i bronkie og lunge
C43|II|Ondartet melanom i hud
C50|II|Ondartet svulst i brystkjertel
C61|II|Ondartet svulst i prostata
D50|III|Jernmangelanemi
E03|IV|Annen hypotyreose
E039|E03|Hypotyreose, uspesifisert
E05|IV|Tyreotoksikose
E10|IV|Diabetes mellitus type 1
E101|E10|Diabetes mellitus type 1 med ketoacidose
E102|E10|Diabetes mellitus type 1 med nyrekomplikasjoner
E103|E10|Diabetes mellitus type 1 med øyekomplikasjoner
E109|E10|Diabetes mellitus type 1 uten komplikasjoner
E11|IV|Diabetes mellitus type 2
E112|E11|Diabetes mellitus type 2 med nyrekomplikasjoner
E113|E11|Diabetes mellitus type 2 med øyekomplikasjoner
E114|E11|Diabetes mellitus type 2 med nevrologiske komplikasjoner
E115|E11|Diabetes mellitus type 2 med perifere sirkulasjonskomplikasjoner
E119|E11|Diabetes mellitus type 2 uten komplikasjoner
E66|IV|Fedme
E78|IV|Forstyrrelser i lipoproteinmetabolismen og andre lipidemier
E780|E78|Ren hyperkolesterolemi
F00|V|Demens ved Alzheimers sykdom
F03|V|Uspesifisert demens
F10|V|Psykiske lidelser og atferdsforstyrrelser som skyldes bruk av alkohol
F20|V|Schizofreni
F31|V|Bipolar affektiv lidelse
F32|V|Depressiv episode
F320|F32|Lett depressiv episode
F321|F32|Moderat depressiv episode
F322|F32|Alvorlig depressiv episode uten psykotiske symptomer
F329|F32|Depressiv episode, uspesifisert
F33|V|Tilbakevendende depressiv lidelse
F41|V|Andre angstlidelser
F410|F41|Panikklidelse
F411|F41|Generalisert angstlidelse
F90|V|Hyperkinetiske forstyrrelser
G20|VI|Parkinsons sykdom
G30|VI|Alzheimers sykdom
G35|VI|Multippel sklerose
G40|VI|Epilepsi
G43|VI|Migrene
G45|VI|Forbigående cerebral iskemi og beslektede syndromer
H10|VII|Konjunktivitt
H25|VII|Aldersrelatert katarakt
H40|VII|Glaukom
H66|VIII|Suppurativ og uspesifisert mellomørebetennelse
I10|IX|Essensiell (primær) hypertensjon
I11|IX|Hypertensiv hjertesykdom
I20|IX|Angina pectoris
I200|I20|Ustabil angina
I209|I20|Angina pectoris, uspesifisert
I21|IX|Akutt hjerteinfarkt
I219|I21|Akutt hjerteinfarkt, uspesifisert
I25|IX|Kronisk iskemisk hjertesykdom
I26|IX|Lungeemboli
I48|IX|Atrieflimmer og atrieflutter
I50|IX|Hjertesvikt
I500|I50|Kongestiv hjertesvikt
I501|I50|Venstresidig hjertesvikt
I509|I50|Hjertesvikt, uspesifisert
I61|IX|Hjerneblødning
I63|IX|Hjerneinfarkt
I64|IX|Hjerneslag, ikke spesifisert som blødning eller infarkt
I80|IX|Flebitt og tromboflebitt
J02|X|Akutt faryngitt
J03|X|Akutt tonsillitt
J06|X|Akutte infeksjoner i øvre luftveier med multiple og uspesifiserte lokalisasjoner
J10|X|Influensa som skyldes identifisert sesonginfluensavirus
J11|X|Influensa, virus ikke identifisert
J18|X|Pneumoni med uspesifisert mikroorganisme
J189|J18|Pneumoni, uspesifisert
J20|X|Akutt bronkitt
J44|X|Annen kronisk obstruktiv lungesykdom
J440|J44|Kronisk obstruktiv lungesykdom med akutt infeksjon i nedre luftveier
J441|J44|Kronisk obstruktiv lungesykdom med akutt forverrelse, uspesifisert
J449|J44|Kronisk obstruktiv lungesykdom, uspesifisert
J45|X|Astma
J450|J45|Overveiende allergisk astma
J451|J45|Ikke-allergisk astma
J459|J45|Astma, uspesifisert
J46|X|Akutt alvorlig astma
K21|XI|Gastroøsofageal reflukssykdom
K25|XI|Ventrikkelsår
K26|XI|Duodenalsår
K35|XI|Akutt appendisitt
K50|XI|Crohns sykdom
K51|XI|Ulcerøs kolitt
K58|XI|Irritabel tarm-syndrom
K80|XI|Gallestein
L20|XII|Atopisk dermatitt
L40|XII|Psoriasis
M06|XIII|Annen revmatoid artritt
M10|XIII|Urinsyregikt
M16|XIII|Hofteleddsartrose
M17|XIII|Kneleddsartrose
M54|XIII|Ryggsmerter
M545|M54|Lumbago
M81|XIII|Osteoporose uten patologisk brudd
N17|XIV|Akutt nyresvikt
N18|XIV|Kronisk nyresykdom
N183|N18|Kronisk nyresykdom, stadium 3
N184|N18|Kronisk nyresykdom, stadium 4
N185|N18|Kronisk nyresykdom, stadium 5
N189|N18|Kronisk nyresykdom, uspesifisert
N30|XIV|Cystitt
N39|XIV|Andre sykdommer i urinsystemet
N390|N39|Urinveisinfeksjon, uspesifisert lokalisasjon
N40|XIV|Prostatahyperplasi
O80|XV|Fødsel ved spontan forløsning av ett barn
R05|XVIII|Hoste
R07|XVIII|Smerter i hals og bryst
R10|XVIII|Smerter i buk og bekken
R50|XVIII|Feber av annen og ukjent årsak
R51|XVIII|Hodepine
R53|XVIII|Uvelhet og tretthet
S06|XIX|Intrakraniell skade
S52|XIX|Brudd i underarm
S72|XIX|Brudd i lårben
S720|S72|Brudd i lårhals
Z00|XXI|Generell undersøkelse og utredning av personer uten symptomer eller registrert diagnose
Z23|XXI|Behov for immunisering mot én enkelt bakteriesykdom
Z25|XXI|Behov for immunisering mot andre enkelte virussykdommer
Z30|XXI|Prevensjonsveiledning og -tiltak
Z34|XXI|Kontroll av normalt svangerskap
U07|XXII|Koder for spesielle formål: covid-19
U071|U07|Covid-19, virus påvist
"""

ATC = """
A||Fordøyelsesorganer og stoffskifte
A02|A|Midler mot syrerelaterte lidelser
A02B|A02|Midler mot ulcus og gastroøsofageal reflukssykdom
A02BC|A02B|Protonpumpehemmere
A02BC01|A02BC|omeprazol
A02BC02|A02BC|pantoprazol
A02BC05|A02BC|esomeprazol
A03|A|Midler mot funksjonelle gastrointestinale lidelser
A03F|A03|Motilitetsregulerende midler
A03FA|A03F|Motilitetsregulerende midler
A03FA01|A03FA|metoklopramid
A10|A|Antidiabetika
A10A|A10|Insuliner og analoger
A10AB|A10A|Insuliner og analoger til injeksjon, hurtigvirkende
A10AB05|A10AB|insulin aspart
A10AE|A10A|Insuliner og analoger til injeksjon, langtidsvirkende
A10AE04|A10AE|insulin glargin
A10B|A10|Blodglukosesenkende midler, ekskl. insuliner
A10BA|A10B|Biguanider
A10BA02|A10BA|metformin
A10BB|A10B|Sulfonylureaderivater
A10BB12|A10BB|glimepirid
A10BH|A10B|Dipeptidylpeptidase-4 (DPP-4)-hemmere
A10BH01|A10BH|sitagliptin
A10BJ|A10B|Glukagonlignende peptid-1 (GLP-1)-analoger
A10BJ02|A10BJ|liraglutid
A10BJ06|A10BJ|semaglutid
A10BK|A10B|Natrium-glukose-kotransportør 2 (SGLT2)-hemmere
A10BK01|A10BK|dapagliflozin
A10BK03|A10BK|empagliflozin
B||Blod og bloddannende organer
B01|B|Antitrombotiske midler
B01A|B01|Antitrombotiske midler
B01AA|B01A|Vitamin K-antagonister
B01AA03|B01AA|warfarin
B01AC|B01A|Platehemmere, ekskl. heparin
B01AC04|B01AC|klopidogrel
B01AC06|B01AC|acetylsalisylsyre
B01AE|B01A|Direkte trombinhemmere
B01AE07|B01AE|dabigatraneteksilat
B01AF|B01A|Direkte faktor Xa-hemmere
B01AF01|B01AF|rivaroksaban
B01AF02|B01AF|apiksaban
C||Hjerte og kretsløp
C01|C|Hjerteterapi
C01A|C01|Hjerteglykosider
C01AA|C01A|Digitalisglykosider
C01AA05|C01AA|digoksin
C03|C|Diuretika
C03C|C03|High-ceiling diuretika
C03CA|C03C|Sulfonamider, usammensatte preparater
C03CA01|C03CA|furosemid
C03D|C03|Kaliumsparende midler
C03DA|C03D|Aldosteronantagonister
C03DA01|C03DA|spironolakton
C07|C|Betablokkere
C07A|C07|Betablokkere
C07AB|C07A|Betablokkere, selektive
C07AB02|C07AB|metoprolol
C07AB07|C07AB|bisoprolol
C08|C|Kalsiumantagonister
C08C|C08|Selektive kalsiumantagonister med hovedsakelig vaskulær effekt
C08CA|C08C|Dihydropyridinderivater
C08CA01|C08CA|amlodipin
C09|C|Midler med virkning på renin-angiotensinsystemet
C09A|C09|ACE-hemmere, usammensatte preparater
C09AA|C09A|ACE-hemmere, usammensatte preparater
C09AA02|C09AA|enalapril
C09AA03|C09AA|lisinopril
C09AA05|C09AA|ramipril
C09C|C09|Angiotensin II-reseptorantagonister, usammensatte preparater
C09CA|C09C|Angiotensin II-reseptorantagonister, usammensatte preparater
C09CA01|C09CA|losartan
C09CA03|C09CA|valsartan
C09CA06|C09CA|kandesartan
C10|C|Lipidmodifiserende midler
C10A|C10|Lipidmodifiserende midler, usammensatte preparater
C10AA|C10A|HMG-CoA-reduktasehemmere
C10AA01|C10AA|simvastatin
C10AA05|C10AA|atorvastatin
C10AA07|C10AA|rosuvastatin
H||Hormoner til systemisk bruk, ekskl. kjønnshormoner og insuliner
H02|H|Kortikosteroider til systemisk bruk
H02A|H02|Kortikosteroider til systemisk bruk, usammensatte preparater
H02AB|H02A|Glukokortikoider
H02AB06|H02AB|prednisolon
H03|H|Tyreoideaterapi
H03A|H03|Tyreoideapreparater
H03AA|H03A|Tyreoideahormoner
H03AA01|H03AA|levotyroksinnatrium
J||Antiinfektiver til systemisk bruk
J01|J|Antibakterielle midler til systemisk bruk
J01C|J01|Betalaktamantibakterielle midler, penicilliner
J01CA|J01C|Penicilliner med utvidet spektrum
J01CA04|J01CA|amoksicillin
J01CE|J01C|Betalaktamasefølsomme penicilliner
J01CE02|J01CE|fenoksymetylpenicillin
J01F|J01|Makrolider, linkosamider og streptograminer
J01FA|J01F|Makrolider
J01FA09|J01FA|klaritromycin
J01FA10|J01FA|azitromycin
J01X|J01|Andre antibakterielle midler
J01XE|J01X|Nitrofuranderivater
J01XE01|J01XE|nitrofurantoin
J07|J|Vaksiner
J07B|J07|Virusvaksiner
J07BB|J07B|Influensavaksiner
J07BD|J07B|Meslingvaksiner
J07BM|J07B|Papillomavirusvaksiner
M||Muskler og skjelett
M01|M|Antiinflammatoriske og antirevmatiske midler
M01A|M01|Antiinflammatoriske og antirevmatiske midler, ekskl. steroider
M01AE|M01A|Propionsyrederivater
M01AE01|M01AE|ibuprofen
M01AE02|M01AE|naproksen
M04|M|Giktmidler
M04A|M04|Giktmidler
M04AA|M04A|Urinsyresyntesehemmere
M04AA01|M04AA|allopurinol
N||Nervesystemet
N02|N|Analgetika
N02B|N02|Andre analgetika og antipyretika
N02BE|N02B|Anilider
N02BE01|N02BE|paracetamol
N05|N|Psykoleptika
N05C|N05|Hypnotika og sedativer
N05CF|N05C|Benzodiazepinlignende midler
N05CF01|N05CF|zopiklon
N06|N|Psykoanaleptika
N06A|N06|Antidepressiva
N06AB|N06A|Selektive serotoninreopptakshemmere
N06AB04|N06AB|citalopram
N06AB06|N06AB|sertralin
N06AB10|N06AB|escitalopram
N06AX|N06A|Andre antidepressiva
N06AX11|N06AX|mirtazapin
R||Respirasjonsorganer
R03|R|Midler mot obstruktiv lungesykdom
R03A|R03|Adrenergika til inhalasjon
R03AC|R03A|Selektive beta-2-agonister
R03AC02|R03AC|salbutamol
R03AK|R03A|Adrenergika i kombinasjon med kortikosteroider eller andre midler, ekskl. antikolinergika
R03AK06|R03AK|salmeterol og flutikason
R03AK07|R03AK|formoterol og budesonid
R03B|R03|Andre midler mot obstruktiv lungesykdom til inhalasjon
R03BA|R03B|Glukokortikoider
R03BA02|R03BA|budesonid
R03BB|R03B|Antikolinergika
R03BB04|R03BB|tiotropiumbromid
R06|R|Antihistaminer til systemisk bruk
R06A|R06|Antihistaminer til systemisk bruk
R06AE|R06A|Piperazinderivater
R06AE07|R06AE|cetirizin
R06AX|R06A|Andre antihistaminer til systemisk bruk
R06AX13|R06AX|loratadin
R06AX27|R06AX|desloratadin
"""

# Norsk laboratoriekodeverk: NPU codes (IUPAC/IFCC) we are sure of. No eGFR here: use LOINC
# 62238-1 (CKD-EPI) until the full NLK is loaded.
NLK = """
NPU27300||B—Hemoglobin A1c (IFCC); stoffrel. = ? mmol/mol
NPU04998||P—Kreatininium; stoffk. = ? µmol/L
NPU03230||P—Kalium-ion; stoffk. = ? mmol/L
NPU03429||P—Natrium-ion; stoffk. = ? mmol/L
NPU19748||P—C-reaktivt protein; massek. = ? mg/L
NPU02593||B—Leukocytter; antallk. = ? × 10⁹/L
NPU03568||B—Trombocytter; antallk. = ? × 10⁹/L
NPU03577||P—Tyreotropin; arb.stoffk. = ? mIU/L
NPU01566||P—Kolesterol; stoffk. = ? mmol/L
"""


def rows(table: str):
    for line in table.strip().splitlines():
        code, parent, display = line.split("|", 2)
        yield code.strip(), parent.strip(), display.strip()


def codesystem(id_: str, url: str, name: str, title: str, aliases: list[str], table: str, description: str) -> dict:
    concepts = []
    for code, parent, display in rows(table):
        concept = {"code": code, "display": display}
        if parent:
            concept["property"] = [{"code": "parent", "valueCode": parent}]
        concepts.append(concept)
    return {
        "resourceType": "CodeSystem", "id": id_, "url": url,
        "identifier": [{"system": "urn:ietf:rfc:3986", "value": alias} for alias in aliases],
        "version": "demo", "name": name, "title": title, "status": "active", "experimental": True,
        "publisher": "ehelse (demo subset)",
        "description": description + " DEMO SUBSET: a few common codes with Norwegian displays; the full list is "
                       "licensed — load it with `ehelse terminology load FILE`.",
        "caseSensitive": False, "hierarchyMeaning": "is-a", "content": "fragment",
        "property": [{"code": "parent", "uri": "http://hl7.org/fhir/concept-properties#parent", "type": "code",
                      "description": "The code of the concept's parent (chapter, block or ATC level)"}],
        "count": len(concepts), "concept": concepts,
    }


def valueset(id_: str, url: str, system: str, title: str) -> dict:
    return {"resourceType": "ValueSet", "id": id_, "url": url, "version": "demo", "name": id_.replace("-", "_"),
            "title": title, "status": "active", "experimental": True,
            "description": f"All codes of {title} known to this server (demo subset unless the full list is loaded).",
            "compose": {"include": [{"system": system}]}}


# ICPC-2 -> ICD-10 pairs that are textbook equivalents (ICPC-2e/ICD-10 conversion).
ICPC2_TO_ICD10 = [("T90", "E11", "equivalent"), ("T89", "E10", "equivalent"), ("K86", "I10", "equivalent"),
                  ("R96", "J45", "equivalent"), ("R95", "J44", "equivalent"), ("K77", "I50", "equivalent"),
                  ("K78", "I48", "equivalent"), ("K75", "I21", "equivalent"), ("P76", "F32", "wider"),
                  ("N89", "G43", "equivalent"), ("N88", "G40", "equivalent"), ("K93", "I26", "equivalent"),
                  ("L90", "M17", "equivalent"), ("L89", "M16", "equivalent"), ("L95", "M81", "wider"),
                  ("S91", "L40", "equivalent"), ("T92", "M10", "equivalent"), ("R81", "J18", "wider")]


def conceptmap(icpc2: str, icd10: str, displays: dict) -> dict:
    elements = [{"code": a, "display": displays[("icpc", a)],
                 "target": [{"code": b, "display": displays[("icd", b)], "equivalence": eq}]}
                for a, b, eq in ICPC2_TO_ICD10]
    return {"resourceType": "ConceptMap", "id": "icpc2-icd10-demo",
            "url": "http://ehelse.no/fhir/ConceptMap/icpc2-icd10-demo", "version": "demo",
            "name": "ICPC2toICD10Demo", "title": "ICPC-2 til ICD-10 (demo)", "status": "active", "experimental": True,
            "description": "DEMO: common ICPC-2 diagnoses and their usual ICD-10 category. Not a clinical mapping.",
            "sourceUri": "urn:oid:2.16.578.1.12.4.1.1.7170?fhir_vs", "targetUri": "urn:oid:2.16.578.1.12.4.1.1.7110?fhir_vs",
            "group": [{"source": icpc2, "target": icd10, "element": elements}]}


def main() -> None:
    icpc2, icd10 = "urn:oid:2.16.578.1.12.4.1.1.7170", "urn:oid:2.16.578.1.12.4.1.1.7110"
    atc, nlk = "urn:oid:2.16.578.1.12.4.1.1.7180", "urn:oid:2.16.578.1.12.4.1.1.7280"
    systems = [
        ("codesystem-icpc2", codesystem("icpc2", icpc2, "ICPC2", "ICPC-2 (demo)", [
            "http://hl7.org/fhir/sid/icpc-2", "urn:oid:2.16.840.1.113883.6.139"], ICPC2,
            "ICPC-2, the International Classification of Primary Care, Norwegian edition (Volven 7170).")),
        ("codesystem-icd10", codesystem("icd10", icd10, "ICD10NO", "ICD-10 norsk utgave (demo)", [], ICD10,
            "ICD-10, Norwegian edition (Volven 7110); codes without the dot, as in the Norwegian code files.")),
        ("codesystem-atc", codesystem("atc", atc, "ATC", "ATC (demo)", ["http://www.whocc.no/atc"], ATC,
            "ATC, the Anatomical Therapeutic Chemical classification (Volven 7180), Norwegian names.")),
        ("codesystem-nlk", codesystem("nlk", nlk, "NLK", "Norsk laboratoriekodeverk (demo)", [], NLK,
            "Norsk laboratoriekodeverk (NLK, Volven 7280): NPU codes for common tests.")),
    ]
    displays = {("icpc", c): d for c, _, d in rows(ICPC2)} | {("icd", c): d for c, _, d in rows(ICD10)}
    resources = systems + [
        ("valueset-icpc2", valueset("icpc2", "http://ehelse.no/fhir/ValueSet/icpc2", icpc2, "ICPC-2")),
        ("valueset-icd10", valueset("icd10", "http://ehelse.no/fhir/ValueSet/icd10", icd10, "ICD-10")),
        ("valueset-atc", valueset("atc", "http://ehelse.no/fhir/ValueSet/atc", atc, "ATC")),
        ("valueset-nlk", valueset("nlk", "http://ehelse.no/fhir/ValueSet/nlk", nlk, "NLK")),
        ("conceptmap-icpc2-icd10", conceptmap(icpc2, icd10, displays)),
    ]
    for name, resource in resources:
        path = OUT / f"{name}.json"
        path.write_text(json.dumps(resource, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        print(path.name, len(resource.get("concept", [])) or "")


if __name__ == "__main__":
    main()
