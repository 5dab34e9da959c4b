"""Word lists, sentence templates and mention surfaces of the `synthetic` corpus (see `synthetic.py`).

All names are written for this project; many are invented. Some surfaces are shared on purpose
(a surname that is also a company, a first name that is also a city, a country that is also a first
name), so that an entity's type has to be read from its context.

Template language, one string per template, tokens separated by spaces:
- `{a:Peop}` a slot: an entity mention of type Peop bound to the name `a`; `{a:Loc.city}` also fixes the
  kind of surface (Loc: city | country | site; Org: company | univ | bank | agency); a trailing `!`
  (`{b:Loc!}`) forbids attaching a modifier clause right after that mention;
- `{b:Peop|Org.surname_org}` a slot whose type is drawn from the options and whose surface is a shared
  word (SHARED_WORDS), so nothing in the sentence tells the type: ambiguous on purpose;
- `?word` an optional distractor word (`?last_year` gives two words);
- any other token is literal. Relations are written `"Work_For a b; Live_In a c"` (type, head, tail);
  `"Work_For a|b c"` draws the head among a and b (a pronoun whose antecedent the sentence leaves open).
Modifier clauses attach to an existing mention named `x`, whose type (and kind) is given first.
"""

from __future__ import annotations

import numpy as np

_AMBIGUOUS_SURNAME_ORG = ["Hartley", "Brandt", "Morrow", "Kessler", "Whitfield", "Lowell", "Pryce", "Dalton"]
_AMBIGUOUS_NAME_CITY = ["Florence", "Austin", "Sydney", "Victoria", "Charlotte", "Madison", "Eugene",
                        "Regina", "Adelaide", "Lincoln", "Jackson", "Chester", "Marion", "Camden"]
_AMBIGUOUS_NAME_COUNTRY = ["Jordan", "Georgia", "Chad"]

FIRST_NAMES = [
    "Anna", "Maria", "Elena", "Sofia", "Laura", "Clara", "Nadia", "Irene", "Helen", "Julia", "Rosa", "Emma",
    "Grace", "Alice", "Hannah", "Lena", "Mira", "Paula", "Teresa", "Vera", "Ingrid", "Agnes", "Carmen",
    "Diana", "Fiona", "Greta", "Ines", "Joanna", "Katrin", "Lucia", "Marta", "Nora", "Olga", "Petra",
    "Sara", "Yara", "John", "Peter", "Michael", "David", "Thomas", "Daniel", "Mark", "Paul", "Robert",
    "James", "Lukas", "Marco", "Pedro", "Tomas", "Viktor", "Omar", "Samuel", "Felix", "Hugo", "Igor",
    "Karl", "Leon", "Martin", "Nikolai", "Oscar", "Rafael", "Stefan", "Anton", "Bruno", "Carlos",
    "Dmitri", "Erik", "Frank", "George", "Henrik", "Kwame", "Amara", "Kenji", "Priya", "Arjun", "Mei",
] + _AMBIGUOUS_NAME_CITY + _AMBIGUOUS_NAME_COUNTRY

SURNAMES = [
    "Smith", "Novak", "Petrov", "Silva", "Costa", "Moreau", "Fischer", "Weber", "Keller", "Romano", "Ricci",
    "Jensen", "Larsen", "Kowalski", "Horvat", "Varga", "Lindqvist", "Berg", "Okafor", "Mensah", "Haddad",
    "Nasser", "Tanaka", "Sato", "Park", "Chen", "Wang", "Singh", "Patel", "Gupta", "Rossi", "Duarte",
    "Ferreira", "Alvarez", "Ortega", "Navarro", "Molina", "Grant", "Fletcher", "Harper", "Sutton", "Barker",
    "Holt", "Lawson", "Mercer", "Reeves", "Sinclair", "Thornton", "Vance", "Walsh", "Wilder", "Ashby",
    "Brennan", "Carver", "Doyle", "Ellison", "Finch", "Garrity", "Hale", "Osei", "Iyer", "Moreno",
] + _AMBIGUOUS_SURNAME_ORG + ["Lincoln", "Jackson", "Chester"]

TITLES = ["Dr.", "Mr.", "Ms.", "Prof.", "Sen.", "Gen.", "Judge"]

ORG_NAMES = [
    "Norvex", "Kestrel", "Altira", "Brightwave", "Cobalt", "Datalink", "Everfield", "Fenwick", "Helion",
    "Irongate", "Juniper", "Korvan", "Lumina", "Meridian", "Nexora", "Orbis", "Paragon", "Quantix",
    "Redstone", "Solvane", "Trident", "Ultrion", "Veltro", "Westbrook", "Zephyr", "Arcadia", "Bluepeak",
    "Crestline", "Dynamo", "Atlas", "Orion", "Harlow",
] + _AMBIGUOUS_SURNAME_ORG
ORG_SUFFIXES = ["Group", "Holdings", "Systems", "Labs", "Motors", "Airlines", "Energy", "Media", "Foods",
                "Pharma", "Capital", "Logistics", "Technologies", "Partners", "Industries", "Corp."]

CITIES = [
    "Lisbon", "Porto", "Valencia", "Turin", "Lyon", "Leipzig", "Graz", "Bergen", "Gdansk", "Brno", "Tartu",
    "Split", "Cork", "Aarhus", "Tampere", "Izmir", "Tangier", "Mombasa", "Kumasi", "Cebu", "Osaka", "Busan",
    "Pune", "Recife", "Cordoba", "Rosario", "Medellin", "Halifax", "Tucson", "Omaha", "Dayton", "Fresno",
    "Port Ellis", "New Harlow", "San Verano", "Kelmar", "Dunmore", "Harlow", "Vossberg",
] + _AMBIGUOUS_NAME_CITY
COUNTRIES = [
    "Portugal", "Spain", "Italy", "France", "Germany", "Austria", "Norway", "Poland", "Estonia", "Croatia",
    "Ireland", "Denmark", "Finland", "Turkey", "Morocco", "Kenya", "Ghana", "Nigeria", "Japan", "India",
    "Brazil", "Argentina", "Colombia", "Canada", "Mexico", "Chile", "Peru", "South Korea", "New Zealand",
    "Sri Lanka", "Costa Rica", "Nordavia", "Eastmark",
] + _AMBIGUOUS_NAME_COUNTRY
SITE_NAMES = ["Tarn", "Ardell", "Corvin", "Elbrin", "Halden", "Mirrow", "Selka", "Orrin"]

PRODUCT_WORDS = ["Falcon", "Aurora", "Vega", "Nimbus", "Pulse", "Atlas", "Echo", "Nova", "Titan", "Orion",
                 "Comet", "Horizon", "Spark", "Velo", "Prism", "Summit", "Kestrel"]
PRODUCT_MODELS = ["X2", "7", "Pro", "Max", "300", "S", "Mini", "Plus", "GT", "Air", "One", "Neo", "II"]

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]
DATE_HEDGES = ["early", "late", "mid", "spring", "autumn"]

# --- main clauses that assert relations, by relation type -------------------------------------------
RELATION_FRAMES: dict[str, list[tuple[str, str]]] = {
    "Work_For": [
        ("{a:Peop} ?reportedly works for {b:Org}", "Work_For a b"),
        ("{a:Peop} joined {b:Org} ?last_year", "Work_For a b"),
        ("{b:Org} hired {a:Peop} ?last_month", "Work_For a b"),
        ("{a:Peop} was hired by {b:Org}", "Work_For a b"),
        ("{b:Org} has appointed {a:Peop} as chief executive", "Work_For a b"),
        ("{a:Peop!} , an analyst at {b:Org} , said the outlook was weak", "Work_For a b"),
        ("{a:Peop} has been an engineer at {b:Org} since {c:Date}", "Work_For a b"),
        ("{b:Org!} spokesman {a:Peop} declined to comment", "Work_For a b"),
        ("{b:Org} named {a:Peop} its new president", "Work_For a b"),
        ("{a:Peop} left {c:Org} to join {b:Org}", "Work_For a b"),
        ("{b:Org} ?quietly hired {a:Peop} away from {c:Org}", "Work_For a b"),
        ("{d:Peop} said that {a:Peop} had joined {b:Org}", "Work_For a b"),
        ("{a:Peop} now works for {b:Org} after years at {c:Org}", "Work_For a b"),
        ("{a:Peop} is employed by {b:Org}", "Work_For a b"),
        ("{a:Peop} told {b:Peop} that she had joined {c:Org}", "Work_For a|b c"),
        ("the director of {b:Org!} , {a:Peop} , spoke on Friday", "Work_For a b"),
        ("{b:Org!} , based in {c:Loc} , hired {a:Peop}", "Work_For a b; OrgBased_In b c"),
    ],
    "Live_In": [
        ("{a:Peop} ?still lives in {b:Loc}", "Live_In a b"),
        ("{a:Peop!} , a resident of {b:Loc} , won the award", "Live_In a b"),
        ("{a:Peop} moved to {b:Loc} in {c:Date}", "Live_In a b"),
        ("{b:Loc!} resident {a:Peop} was among the winners", "Live_In a b"),
        ("{a:Peop} has lived in {b:Loc} since {c:Date}", "Live_In a b"),
        ("{a:Peop!} , who was born in {c:Loc} , now lives in {b:Loc}", "Live_In a b"),
        ("police said {a:Peop!} , of {b:Loc} , was not injured", "Live_In a b"),
        ("{a:Peop} settled in {b:Loc} after leaving {c:Loc}", "Live_In a b"),
        ("{a:Peop} wrote to {b:Peop} after she moved to {c:Loc}", "Live_In a|b c"),
        ("{a:Peop!} , the founder of {b:Org} , lives in {c:Loc}", "Founded a b; Live_In a c"),
    ],
    "OrgBased_In": [
        ("{a:Org} is based in {b:Loc}", "OrgBased_In a b"),
        ("{a:Org!} , headquartered in {b:Loc} , reported higher profits", "OrgBased_In a b"),
        ("{b:Loc!} - based {a:Org} announced ?new layoffs", "OrgBased_In a b"),
        ("{a:Org} moved its headquarters to {b:Loc}", "OrgBased_In a b"),
        ("{a:Org!} , which has its head office in {b:Loc} , declined to comment", "OrgBased_In a b"),
        ("{a:Org} opened a store in {c:Loc} but remains based in {b:Loc}", "OrgBased_In a b"),
        ("{a:Peop} joined {b:Org!} , a {c:Loc.city!} company", "Work_For a b; OrgBased_In b c"),
    ],
    "Located_In": [
        ("{a:Loc.city} is a ?small city in {b:Loc.country}", "Located_In a b"),
        ("{a:Loc.city!} , {b:Loc.country} , was hit by floods", "Located_In a b"),
        ("the town of {a:Loc.city} lies in southern {b:Loc.country}", "Located_In a b"),
        ("{a:Loc.city} is the capital of {b:Loc.country}", "Located_In a b"),
        ("flights from {c:Loc.city} to {a:Loc.city!} , {b:Loc.country} , were cancelled", "Located_In a b"),
        ("{a:Loc.site} is the best known landmark of {b:Loc.city}", "Located_In a b"),
    ],
    "Founded": [
        ("{a:Peop} founded {b:Org}", "Founded a b"),
        ("{b:Org} was founded by {a:Peop} in {c:Date}", "Founded a b"),
        ("{b:Org!} founder {a:Peop} stepped down", "Founded a b"),
        ("{a:Peop} and {c:Peop} co-founded {b:Org}", "Founded a b; Founded c b"),
        ("{a:Peop!} , who started {b:Org} in a garage , sold it in {c:Date}", "Founded a b"),
        ("{a:Peop} met {b:Peop} years before she founded {c:Org}", "Founded a|b c"),
        ("{b:Org!} , the firm that {a:Peop} set up in {c:Date} , is growing", "Founded a b"),
    ],
    "Produces": [
        ("{a:Org} makes the {b:Product}", "Produces a b"),
        ("the {b:Product} is made by {a:Org}", "Produces a b"),
        ("{a:Org} ?finally unveiled the {b:Product} on Tuesday", "Produces a b"),
        ("the {b:Product!} , built by {a:Org} , goes on sale in {c:Date}", "Produces a b"),
        ("{c:Org} sells the {b:Product!} , which {a:Org} manufactures", "Produces a b"),
    ],
    "Partner_Of": [
        ("{a:Org} and {b:Org} formed a joint venture", "Partner_Of a b"),
        ("{a:Org} signed a partnership with {b:Org}", "Partner_Of b a"),
        ("{a:Org} has partnered with {b:Org} on the project", "Partner_Of a b"),
        ("a partnership between {a:Org} and {b:Org} was announced in {c:Date}", "Partner_Of a b"),
    ],
    "Sibling_Of": [
        ("{a:Peop} is the brother of {b:Peop}", "Sibling_Of a b"),
        ("{a:Peop} and {b:Peop} are siblings", "Sibling_Of b a"),
        ("{a:Peop!} , whose brother {b:Peop} works for {c:Org} , lives in {d:Loc}",
         "Sibling_Of a b; Work_For b c; Live_In a d"),
        ("{b:Peop!} , the sister of {a:Peop} , ?later testified in court", "Sibling_Of a b"),
    ],
}

# --- main clauses with entities but no relation (the pairs are candidate negatives) ---------------------
NEUTRAL_FRAMES = [
    "{a:Peop} criticized {b:Org}", "{a:Peop} sued {b:Org}", "{b:Org} rejected an offer from {a:Peop}",
    "{a:Peop} bought shares in {b:Org}", "{a:Peop} left {b:Org} in {c:Date}", "{a:Peop} was fired by {b:Org}",
    "{a:Peop} praised {b:Org}", "{a:Peop} applied to {b:Org} but was turned down",
    "{a:Peop} visited {b:Loc}", "{a:Peop} flew to {b:Loc} on Monday", "{a:Peop} gave a speech in {b:Loc}",
    "{a:Peop} was born in {b:Loc}", "{a:Peop} left {b:Loc} in {c:Date}", "{a:Peop} will travel to {b:Loc}",
    "{a:Org} opened a store in {b:Loc}", "{a:Org} withdrew from {b:Loc}",
    "{a:Org} plans to expand into {b:Loc}", "{a:Org} sponsored a festival in {b:Loc}",
    "{a:Org} sued {b:Org}", "{a:Org} competes with {b:Org}",
    "{a:Org} made a bid for {b:Org}", "{a:Org} outsold {b:Org} last quarter",
    "talks between {a:Org} and {b:Org} collapsed", "{a:Peop} met {b:Peop} in {c:Loc}",
    "{a:Peop} defeated {b:Peop} in the final", "{a:Peop} interviewed {b:Peop}",
    "{a:Peop} criticized {b:Peop}",
    "{a:Peop} and {b:Peop} disagreed on the plan", "{a:Peop} praised {b:Peop}", "{a:Peop} sued {b:Peop}",
    "flights between {a:Loc} and {b:Loc} resumed", "the road from {a:Loc} to {b:Loc} was closed",
    "{a:Peop} reviewed the {b:Product}", "{a:Org} sells the {b:Product}", "{a:Org} banned the {b:Product}",
    "{a:Peop} bought a {b:Product} in {c:Loc}", "{a:Org} and {b:Org} ended their partnership",
    "{a:Peop} praised {b:Peop|Org.surname_org}", "{a:Peop} sued {b:Peop|Org.surname_org}",
    "{b:Peop|Org.surname_org} rejected an offer from {a:Peop}",
    "{a:Peop} wrote a song about {b:Peop|Loc.name_city}", "{a:Peop} said goodbye to {b:Peop|Loc.name_city}",
]
SINGLE_FRAMES = [
    "{a:Peop} declined to comment", "shares of {a:Org} fell sharply", "heavy rain flooded parts of {a:Loc}",
    "the {a:Product} sold out within hours", "{a:Peop} won the race", "{a:Org} reported a loss",
    "the election was held in {a:Date}", "{a:Peop} resigned", "prices in {a:Loc} rose again",
    "{a:Peop|Org.surname_org} declined to comment", "everyone here loves {a:Peop|Loc.name_city}",
]
FILLERS = [
    "the meeting ended without an agreement", "shares fell sharply in early trading",
    "the company declined to comment", "officials said the plan would be reviewed",
    "prices rose for the third month in a row", "the vote was postponed until next week",
    "nobody was injured in the fire", "the talks will resume on Monday",
]

# --- modifier clauses attached after a mention `x`: (anchor type[.kind], template, relations) ----------
RELATION_MODIFIERS = [
    ("Peop", ", a resident of {c:Loc} ,", "Live_In x c"), ("Peop", ", who lives in {c:Loc} ,", "Live_In x c"),
    ("Peop", ", of {c:Loc.city} ,", "Live_In x c"), ("Peop", ", an engineer at {c:Org} ,", "Work_For x c"),
    ("Peop", ", a spokeswoman for {c:Org} ,", "Work_For x c"),
    ("Peop", ", the founder of {c:Org} ,", "Founded x c"),
    ("Peop", ", the brother of {c:Peop} ,", "Sibling_Of x c"),
    ("Peop", ", whose sister {c:Peop} also attended ,", "Sibling_Of x c"),
    ("Org", ", based in {c:Loc} ,", "OrgBased_In x c"), ("Org", ", a partner of {c:Org} ,", "Partner_Of x c"),
    ("Org", ", the maker of the {c:Product} ,", "Produces x c"),
    ("Org", ", which was founded by {c:Peop} ,", "Founded c x"),
    ("Org", ", which employs {c:Peop} ,", "Work_For c x"),
    ("Loc.city", ", {c:Loc.country} ,", "Located_In x c"),
    ("Loc.city", ", a city in {c:Loc.country} ,", "Located_In x c"),
    ("Loc", ", home to {c:Org} ,", "OrgBased_In c x"), ("Product", ", made by {c:Org} ,", "Produces c x"),
]
NEUTRAL_MODIFIERS = [
    ("Peop", ", a friend of {c:Peop} ,"), ("Peop", ", who was born in {c:Loc} ,"),
    ("Peop", ", a former adviser to {c:Org} ,"), ("Peop", ", a critic of {c:Org} ,"),
    ("Peop", ", who recently visited {c:Loc} ,"), ("Peop", ", who studied at {c:Org.univ} ,"),
    ("Peop", ", 45 ,"), ("Org", ", a rival of {c:Org} ,"), ("Org", ", which sells the {c:Product} ,"),
    ("Org", ", which has a branch in {c:Loc} ,"), ("Org", ", which was sued by {c:Peop} ,"),
    ("Org", ", once owned by {c:Org} ,"), ("Loc", ", near {c:Loc.city} ,"),
    ("Loc", ", where {c:Peop} grew up ,"),
    ("Product", ", sold by {c:Org} ,"), ("Product", ", launched in {c:Date} ,"),
]

# --- distractor clauses: before or after the main clause; any entity in them is a decoy -----------------
PREFIX_DISTRACTORS = [
    "on Tuesday ,", "according to officials ,", "in a surprise move ,", "meanwhile ,", "earlier this year ,",
    "as expected ,", "in a brief statement ,", "despite strong opposition ,", "for the second time ,",
]
PREFIX_DECOYS = ["according to {d:Peop} ,", "in {d:Date} ,", "speaking in {d:Loc} ,",
                 "as {d:Org} had predicted ,", "two days after the {d:Product} launch ,"]
SUFFIX_DISTRACTORS = [
    ", analysts said", ", sources said", ", although the terms were not disclosed", ", the report added",
    ", a move that surprised investors", ", officials confirmed on Monday", ", according to a statement",
    "after months of talks", "in a deal worth millions", ", two years after the merger",
]
SUFFIX_DECOYS = [", according to {d:Peop}", ", {d:Org} reported", ", as reported by {d:Org}", "in {d:Date}",
                 ", despite heavy rain in {d:Loc}", ", {d:Peop} told reporters"]
OPTIONAL_WORD_RATE = 0.3
SHARED_WORDS = {"surname_org": _AMBIGUOUS_SURNAME_ORG, "name_city": _AMBIGUOUS_NAME_CITY}
KINDS = {"Org": (("company", 0.55), ("univ", 0.15), ("bank", 0.15), ("agency", 0.15)),  # kind, probability
         "Loc": (("city", 0.6), ("country", 0.3), ("site", 0.1))}


# --- drawing one mention: (tokens, spans [(start, end, type)] outer first, relations [(type, head, tail)]
#     between those spans, kind) ------------------------------------------------------------------------

def pick(rng: np.random.Generator, seq):
    """One element of `seq`, drawn uniformly."""
    return seq[int(rng.integers(len(seq)))]


def _words(rng: np.random.Generator, seq) -> list[str]:
    return str(pick(rng, seq)).split()


def _nest(before: list[str], inner: list[str], after: list[str], outer: str, inner_type: str, rel: str,
          inner_is_head: bool = False):
    n, m = len(before), len(inner)
    spans = [(0, n + m + len(after), outer), (n, n + m, inner_type)]
    return before + inner + after, spans, [(rel, 1, 0) if inner_is_head else (rel, 0, 1)]


def draw_mention(rng: np.random.Generator, etype: str, kind: str | None, nested: bool):
    """Draw one surface of type `etype` (and `kind`); a nested inner entity only when `nested`."""
    r = rng.random()
    if kind in SHARED_WORDS:
        return [pick(rng, SHARED_WORDS[kind])], [(0, 1, etype)], [], kind
    if etype == "Peop":
        first, last = pick(rng, FIRST_NAMES), pick(rng, SURNAMES)
        forms = [([first, last], 0), ([first, f"{pick(rng, 'ABCDEFGHJKLMNPRSTW')}.", last], 0),
                 ([pick(rng, TITLES), first, last], 1), ([last], 0), ([pick(rng, TITLES), last], 1)]
        toks, start = forms[int(np.searchsorted([0.55, 0.65, 0.8, 0.92], r, side="right"))]
        return toks, [(start, len(toks), "Peop")], [], "person"
    if etype == "Date":
        year, month = str(int(rng.integers(1985, 2025))), pick(rng, MONTHS)
        day = str(int(rng.integers(1, 29)))
        forms = [([month, year], 0), ([day, month, year], 0), ([year], 0), ([month, day, ",", year], 0),
                 ([pick(rng, DATE_HEDGES), year], 1)]
        toks, start = forms[int(np.searchsorted([0.35, 0.55, 0.7, 0.85], r, side="right"))]
        return toks, [(start, len(toks), "Date")], [], "date"
    if etype == "Product":
        model = [pick(rng, PRODUCT_MODELS)] if rng.random() < 0.6 else []
        if nested and r < 0.35:
            toks, spans, rels = _nest([], [pick(rng, ORG_NAMES)], [pick(rng, PRODUCT_WORDS)] + model,
                                      "Product", "Org", "Produces", inner_is_head=True)
            return toks, spans, rels, "product"
        toks = [pick(rng, PRODUCT_WORDS)] + model
        return toks, [(0, len(toks), "Product")], [], "product"
    names, probs = zip(*KINDS[etype])
    kind = kind or str(rng.choice(names, p=probs))
    name, city, country = pick(rng, ORG_NAMES), _words(rng, CITIES), _words(rng, COUNTRIES)
    nest_org = {  # kind -> nested surfaces (Org with an inner Loc)
        "univ": [(["University", "of"], city, []), ([], city, ["State", "University"])],
        "bank": [(["Bank", "of"], city, []), ([], city, ["Savings", "Bank"]), (["First"], country, ["Bank"])],
        "agency": [([], country, ["Space", "Agency"]), ([], city, ["City", "Council"])],
        "company": [([], country, ["Airlines"]), ([], city, ["Telecom"])],
    }
    flat_org = {
        "univ": [[pick(rng, SURNAMES), "College"], [name, "Institute"]],
        "bank": [[pick(rng, SURNAMES), "Bank"], [name, "Bank"]],
        "agency": [[name, "Foundation"], [pick(rng, SURNAMES), "Trust"]],
        "company": [[name], [name], [name, pick(rng, ORG_SUFFIXES)],
                    [pick(rng, SURNAMES), "&", pick(rng, SURNAMES)]],
    }
    if etype == "Org":
        if nested and r < (0.15 if kind == "company" else 0.6):
            before, inner, after = pick(rng, nest_org[kind])
            return (*_nest(before, inner, after, "Org", "Loc", "OrgBased_In"), kind)
        toks = pick(rng, flat_org[kind])
        return toks, [(0, len(toks), "Org")], [], kind
    if kind == "site":
        if nested and r < 0.6:
            after = ["Airport"] if rng.random() < 0.6 else ["Central", "Station"]
            return (*_nest([], city, after, "Loc", "Loc", "Located_In"), kind)
        toks = [pick(rng, ["Lake", "Mount"]), pick(rng, SITE_NAMES)]
        return toks, [(0, 2, "Loc")], [], kind
    toks = city if kind == "city" else country
    return toks, [(0, len(toks), "Loc")], [], kind
