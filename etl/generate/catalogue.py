"""Reference data the sample book is drawn from: countries, currencies,
industries, telco products, company-name parts, people's names, titles and
subjects.

Everything here is static vocabulary; the generators pick from it with
integer indices so that whole columns are built at once.  Country names are
ones `pycountry.countries.lookup` resolves and phone layouts are ones
`phonenumbers` accepts as valid, so that silver can normalise every clean
value (tests check both).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np

REGIONS = ("AMER", "EMEA", "APAC")

# ConversionRate = units of the currency per 1 USD (USD is the corporate currency).
CURRENCIES: tuple[str, ...] = ("USD", "EUR", "GBP", "JPY", "AUD", "CAD", "CHF")
CURRENCY_RATES = np.array([1.0, 0.92, 0.79, 150.0, 1.52, 1.36, 0.88])
CURRENCY_DECIMALS = np.array([2, 2, 2, 0, 2, 2, 2])


@dataclass(frozen=True)
class City:
    name: str
    area: str  # national area code without the trunk prefix ("" where none)
    subscriber: str  # "#" any digit, "%" a digit 2-9


@dataclass(frozen=True)
class Country:
    code: str  # ISO 3166-1 alpha-2
    name: str  # a full name pycountry resolves
    region: str
    currency: str
    weight: float  # share of the book, relative
    legal_forms: tuple[str, ...]  # most common first
    qualifier: str  # how a regional subsidiary's name may mention the country
    tld: str
    cities: tuple[City, ...]
    phone_formats: tuple[str, ...]  # "{a}" area code, "{s}" subscriber number
    names: str  # key into FIRST_NAMES / LAST_NAMES


def _cities(spec: str) -> tuple[City, ...]:
    out = []
    for part in spec.split(";"):
        name, area, sub = (x.strip() for x in part.split("|"))
        out.append(City(name, area, sub))
    return tuple(out)


_NANP = ("({a}) {s}", "+1 {a} {s}", "{a}-{s}", "+1-{a}-{s}")

COUNTRIES: tuple[Country, ...] = (
    Country("US", "United States", "AMER", "USD", 28.0, ("Inc.", "Corp.", "LLC", "Inc"), "USA", "com",
            _cities("New York|212|%##-####; Chicago|312|%##-####; San Francisco|415|%##-####; Boston|617|%##-####;"
                    " Houston|713|%##-####; Atlanta|404|%##-####; Dallas|214|%##-####; Seattle|206|%##-####;"
                    " Denver|303|%##-####; Miami|305|%##-####"), _NANP, "en"),
    Country("CA", "Canada", "AMER", "CAD", 5.0, ("Inc.", "Ltd.", "Corp."), "Canada", "ca",
            _cities("Toronto|416|%##-####; Vancouver|604|%##-####; Montreal|514|%##-####; Calgary|403|%##-####;"
                    " Ottawa|613|%##-####"), _NANP, "en"),
    Country("MX", "Mexico", "AMER", "USD", 3.0, ("S.A. de C.V.", "S. de R.L. de C.V."), "México", "com.mx",
            _cities("Ciudad de México|55|#### ####; Monterrey|81|#### ####; Guadalajara|33|#### ####"),
            ("+52 {a} {s}", "{a} {s}"), "es"),
    Country("BR", "Brazil", "AMER", "USD", 4.0, ("Ltda.", "S.A."), "Brasil", "com.br",
            _cities("São Paulo|11|3###-####; Rio de Janeiro|21|3###-####; Belo Horizonte|31|3###-####;"
                    " Curitiba|41|3###-####"), ("+55 {a} {s}", "({a}) {s}"), "pt"),
    Country("GB", "United Kingdom", "EMEA", "GBP", 9.0, ("Ltd", "Limited", "plc", "Ltd."), "UK", "co.uk",
            _cities("London|20|7### ####; London|20|3### ####; Manchester|161|4## ####; Birmingham|121|4## ####;"
                    " Leeds|113|4## ####; Glasgow|141|4## ####; Edinburgh|131|4## ####"),
            ("+44 {a} {s}", "0{a} {s}"), "en"),
    Country("DE", "Germany", "EMEA", "EUR", 8.5, ("GmbH", "AG", "GmbH & Co. KG", "SE"), "Deutschland", "de",
            _cities("Berlin|30|### ####; Hamburg|40|### ####; München|89|### ####; Frankfurt am Main|69|### ####;"
                    " Düsseldorf|211|### ####; Stuttgart|711|### ####"),
            ("+49 {a} {s}", "0{a} {s}", "+49 (0){a} {s}"), "de"),
    Country("FR", "France", "EMEA", "EUR", 5.5, ("SAS", "SA", "SARL"), "France", "fr",
            _cities("Paris|1|%# ## ## ##; Lyon|4|%# ## ## ##; Marseille|4|%# ## ## ##; Lille|3|%# ## ## ##;"
                    " Toulouse|5|6# ## ## ##"), ("+33 {a} {s}", "0{a} {s}"), "fr"),
    Country("CH", "Switzerland", "EMEA", "CHF", 2.0, ("AG", "SA", "GmbH"), "(Schweiz)", "ch",
            _cities("Zürich|44|### ## ##; Genève|22|### ## ##; Basel|61|### ## ##; Bern|31|### ## ##"),
            ("+41 {a} {s}", "0{a} {s}"), "de"),
    Country("NL", "Netherlands", "EMEA", "EUR", 3.0, ("B.V.", "N.V."), "Nederland", "nl",
            _cities("Amsterdam|20|### ####; Rotterdam|10|### ####; Den Haag|70|### ####; Utrecht|30|### ####;"
                    " Eindhoven|40|### ####"), ("+31 {a} {s}", "0{a} {s}"), "nl"),
    Country("ES", "Spain", "EMEA", "EUR", 2.5, ("S.L.", "S.A."), "España", "es",
            _cities("Madrid|91|### ## ##; Barcelona|93|### ## ##; Valencia|96|### ## ##; Sevilla|95|### ## ##"),
            ("+34 {a} {s}", "{a} {s}"), "es"),
    Country("IT", "Italy", "EMEA", "EUR", 2.5, ("S.p.A.", "S.r.l."), "Italia", "it",
            _cities("Milano|02|#### ####; Roma|06|4### ####; Torino|011|### ####; Bologna|051|### ####"),
            ("+39 {a} {s}", "{a} {s}"), "it"),
    Country("SE", "Sweden", "EMEA", "EUR", 1.5, ("AB",), "Sverige", "se",
            _cities("Stockholm|8|### ### ##; Göteborg|31|### ## ##; Malmö|40|### ## ##"),
            ("+46 {a} {s}", "0{a}-{s}"), "sv"),
    Country("AE", "United Arab Emirates", "EMEA", "USD", 1.5, ("LLC", "FZ-LLC", "FZE"), "Middle East", "ae",
            _cities("Dubai|4|3## ####; Abu Dhabi|2|6## ####"), ("+971 {a} {s}", "0{a} {s}"), "ar"),
    Country("ZA", "South Africa", "EMEA", "USD", 1.2, ("(Pty) Ltd", "Ltd"), "South Africa", "co.za",
            _cities("Johannesburg|11|%## ####; Cape Town|21|%## ####; Durban|31|%## ####"),
            ("+27 {a} {s}", "0{a} {s}"), "en"),
    Country("BE", "Belgium", "EMEA", "EUR", 1.0, ("NV", "SA", "BV"), "Belgium", "be",
            _cities("Brussels|2|5## ## ##; Antwerpen|3|2## ## ##"), ("+32 {a} {s}", "0{a} {s}"), "nl"),
    Country("IE", "Ireland", "EMEA", "EUR", 1.0, ("Limited", "DAC", "Ltd"), "Ireland", "ie",
            _cities("Dublin|1|%## ####; Cork|21|%## ####"), ("+353 {a} {s}", "0{a} {s}"), "en"),
    Country("AT", "Austria", "EMEA", "EUR", 0.8, ("GmbH", "AG"), "Austria", "at",
            _cities("Wien|1|%## ####; Graz|316|%## ###"), ("+43 {a} {s}", "0{a} {s}"), "de"),
    Country("PL", "Poland", "EMEA", "EUR", 0.8, ("Sp. z o.o.", "S.A."), "Polska", "pl",
            _cities("Warszawa|22|%## ## ##; Kraków|12|%## ## ##"), ("+48 {a} {s}", "{a} {s}"), "pl"),
    Country("JP", "Japan", "APAC", "JPY", 5.5, ("K.K.", "Co., Ltd."), "Japan", "co.jp",
            _cities("Tokyo|3|%###-####; Osaka|6|%###-####; Nagoya|52|%##-####; Yokohama|45|%##-####"),
            ("+81 {a}-{s}", "0{a}-{s}"), "ja"),
    Country("AU", "Australia", "APAC", "AUD", 5.0, ("Pty Ltd", "Pty. Ltd."), "Australia", "com.au",
            _cities("Sydney|2|9### ####; Melbourne|3|9### ####; Brisbane|7|3### ####; Perth|8|93## ####"),
            ("+61 {a} {s}", "(0{a}) {s}", "0{a} {s}"), "en"),
    Country("SG", "Singapore", "APAC", "USD", 3.0, ("Pte. Ltd.", "Pte Ltd"), "Singapore", "com.sg",
            _cities("Singapore||63## ####"), ("+65 {s}", "{s}"), "zh"),
    Country("IN", "India", "APAC", "USD", 4.0, ("Pvt. Ltd.", "Private Limited", "Ltd."), "India", "co.in",
            _cities("Mumbai|22|2### ####; New Delhi|11|2### ####; Bengaluru|80|2### ####; Chennai|44|2### ####;"
                    " Hyderabad|40|2### ####"), ("+91 {a} {s}", "0{a} {s}"), "in"),
    Country("NZ", "New Zealand", "APAC", "USD", 1.0, ("Limited", "Ltd"), "NZ", "co.nz",
            _cities("Auckland|9|3## ####; Wellington|4|4## ####"), ("+64 {a} {s}", "0{a} {s}"), "en"),
    Country("HK", "Hong Kong", "APAC", "USD", 1.5, ("Limited",), "Hong Kong", "com.hk",
            _cities("Hong Kong||25## ####"), ("+852 {s}",), "zh"),
)
COUNTRY_INDEX = {c.code: i for i, c in enumerate(COUNTRIES)}


# Industry -> descriptor words used in company names.  Every list has the same
# length so a company's (brand, descriptor, tail) triple can be numbered
# without knowing its industry.
INDUSTRIES: tuple[str, ...] = (
    "Financial Services", "Retail", "Manufacturing", "Healthcare", "Logistics", "Public Sector",
    "Media", "Energy", "Technology", "Hospitality", "Professional Services", "Telecommunications",
)
INDUSTRY_WEIGHTS = np.array([12, 11, 14, 9, 9, 6, 5, 6, 12, 6, 7, 3], dtype=float)
DESCRIPTORS: tuple[tuple[str, ...], ...] = (
    ("Bank", "Capital", "Financial", "Insurance", "Assurance", "Investments", "Finance", "Securities", "Payments", "Wealth"),
    ("Retail", "Stores", "Foods", "Fashion", "Markets", "Home", "Outfitters", "Pharmacy", "Electronics", "Supermarkets"),
    ("Manufacturing", "Industries", "Engineering", "Components", "Steel", "Plastics", "Machinery", "Automotive", "Chemicals", "Tools"),
    ("Health", "Healthcare", "Medical", "Pharma", "Clinics", "Diagnostics", "Care", "Biotech", "Hospitals", "Labs"),
    ("Logistics", "Freight", "Transport", "Shipping", "Cargo", "Express", "Distribution", "Haulage", "Supply Chain", "Couriers"),
    ("Council", "Authority", "Agency", "Public Services", "Transit", "Utilities Board", "Housing", "Water", "Education Trust", "Health Board"),
    ("Media", "Broadcasting", "Studios", "Publishing", "Entertainment", "Pictures", "Radio", "Press", "Digital", "Channels"),
    ("Energy", "Power", "Utilities", "Renewables", "Oil & Gas", "Solar", "Petroleum", "Gas", "Grid", "Wind"),
    ("Technologies", "Systems", "Software", "Labs", "Data", "Networks", "Digital", "Computing", "Solutions", "Cloud"),
    ("Hotels", "Resorts", "Hospitality", "Restaurants", "Leisure", "Travel", "Inns", "Dining", "Catering", "Suites"),
    ("Consulting", "Partners", "Advisory", "Associates", "Legal", "Accounting", "Management", "Services", "Staffing", "Research"),
    ("Telecom", "Communications", "Networks", "Connect", "Wireless", "Broadband", "Mobile", "Fibre", "Cable", "Satellite"),
)
# Ways the same word is written on different regional accounts of one company.
DESCRIPTOR_VARIANTS: dict[str, tuple[str, ...]] = {
    "Telecom": ("Telecommunications", "Telecoms", "TELECOM"),
    "Communications": ("Comms", "Communication"),
    "Technologies": ("Technology", "Tech"),
    "Manufacturing": ("Mfg", "Mfg."),
    "Industries": ("Industrial", "Inds."),
    "Engineering": ("Eng.", "Engineers"),
    "Financial": ("Financial Services", "Finance"),
    "Healthcare": ("Health Care",),
    "Logistics": ("Logistic", "Logistik"),
    "Transport": ("Transportation",),
    "Distribution": ("Dist.",),
    "Oil & Gas": ("Oil and Gas", "Oil+Gas"),
    "Supply Chain": ("Supply-Chain",),
    "Systems": ("Sys.", "System"),
    "Solutions": ("Soln", "Solution"),
    "Networks": ("Network", "Netzwerke"),
    "Services": ("Svcs", "Service"),
    "Public Services": ("Public Svcs",),
    "Entertainment": ("Ent.",),
    "Broadcasting": ("Broadcast",),
    "Hotels": ("Hotel", "Hotels & Resorts"),
    "Restaurants": ("Restaurant Group",),
    "Consulting": ("Consultants", "Consultancy"),
    "Associates": ("Assoc.",),
    "Management": ("Mgmt",),
    "Electronics": ("Electronic",),
    "Supermarkets": ("Supermarket",),
    "Insurance": ("Ins.",),
    "Investments": ("Investment",),
    "Securities": ("Secs",),
    "Renewables": ("Renewable Energy",),
    "Automotive": ("Auto",),
}
TAILS: tuple[str | None, ...] = (None, "Group", "Holdings", "International", "Global", "Partners")
TAIL_VARIANTS: dict[str, tuple[str, ...]] = {
    "International": ("Intl", "Int'l", "Intl."),
    "Holdings": ("Hldgs", "Holding"),
    "Group": ("Grp", "Gruppe"),
    "Global": ("Worldwide",),
    "Partners": ("Partnership",),
}
# Subsidiary names in domestic hierarchies: "<stem> <division> <legal form>".
DIVISIONS: tuple[str, ...] = ("Services", "Leasing", "Digital", "Facilities", "Operations", "Direct", "Solutions", "Retail")

# Brand words: compounds of two English parts ("Bluegate") and invented
# three-syllable words ("Koravex") give ~12,000 brands.
_BRAND_HEADS = [
    "Blue", "Red", "North", "South", "East", "West", "Silver", "Gold", "Iron", "Stone", "Oak", "Pine", "Bright",
    "Clear", "Star", "Sun", "Sky", "River", "Lake", "Wood", "Green", "High", "True", "Prime", "First", "Nova",
    "Terra", "Aqua", "Metro", "Inter", "Trans", "Omni", "Pan", "Tri", "Bay", "Cedar", "Maple", "Eagle", "Fox",
    "Summit", "Harbor", "Crown", "Falcon", "Orion", "Polar", "Atlas"
]
_BRAND_TAILS = [
    "field", "gate", "wave", "point", "bridge", "stone", "ridge", "line", "port", "way", "view", "crest", "haven",
    "light", "mark", "path", "spring", "tech", "tron", "vale", "wood", "works", "core", "sphere", "star", "shore",
    "well", "land", "fort", "brook", "dale", "hill", "ford", "ton", "side", "rock", "water", "wind", "peak"
]
_SYL_ON = [
    "Ka", "Ve", "Lu", "Mo", "Ta", "Zi", "Ro", "Na", "Qu", "Xa", "Be", "Di", "Fe", "Ga", "Ha", "Jo", "Ki", "Le",
    "Ma", "Ne", "Pa", "Re", "Sa", "Te", "Vi", "Wa", "Yo", "Ze", "Co", "Dra"
]
_SYL_MID = ["ra", "lo", "ve", "ni", "ta", "mi", "so", "du", "ke", "ri"]
_SYL_END = [
    "vex", "tis", "nor", "lan", "dor", "rix", "mar", "ton", "via", "nex", "sys", "tek", "con", "rus", "lia", "bit",
    "gon", "pex", "ron", "dis", "max", "lux", "ver", "sta", "cor", "tan", "nia", "lex", "mus", "zen", "fin", "len",
    "vis", "dax"
]
_REAL_BRANDS = [
    "Apex", "Acme", "Vertex", "Meridian", "Pinnacle", "Beacon", "Evergreen", "Keystone", "Vanguard", "Sterling",
    "Cobalt", "Trident", "Unity", "Pioneer", "Horizon", "Granite", "Sapphire", "Polaris", "Crescent", "Northwind",
    "Zenith", "Catalyst", "Fusion", "Quantum", "Spectrum", "Paragon", "Sentinel", "Summit", "Titan", "Velocity",
    "Zephyr", "Aurora", "Atlas", "Phoenix", "Nimbus", "Vector", "Lumen", "Onyx", "Halcyon", "Juniper"
]


def _build_brands() -> tuple[str, ...]:
    brands = list(_REAL_BRANDS)
    brands += [h + t for h in _BRAND_HEADS for t in _BRAND_TAILS]
    brands += [a + b + c for a in _SYL_ON for b in _SYL_MID for c in _SYL_END]
    seen: set[str] = set()
    out = []
    for b in brands:
        if b not in seen:
            seen.add(b)
            out.append(b)
    return tuple(out)


BRANDS: tuple[str, ...] = _build_brands()


def _near_brand(brand: str) -> str:
    """A similar but different brand for decoy companies: one vowel changed."""
    vowels = "aeiou"
    for i in range(len(brand) - 1, 0, -1):
        ch = brand[i]
        if ch in vowels:
            repl = vowels[(vowels.index(ch) + 2) % 5]
            return brand[:i] + repl + brand[i + 1:]
    return brand + "a"


NEAR_BRANDS: tuple[str, ...] = tuple(_near_brand(b) for b in BRANDS)


@dataclass(frozen=True)
class Product:
    code: str
    name: str
    family: str
    usage_unit: str  # unit of the monthly usage feed
    monthly_usd: float  # list price per contracted unit per month
    typical_qty: float  # contracted units for a mid-size account
    usage_per_unit: float  # monthly usage per contracted unit
    integer_usage: bool  # counts (lines, devices) rather than volumes


PRODUCTS: tuple[Product, ...] = (
    Product("MOB-FLEET", "Mobile Fleet", "Mobile", "lines", 32.0, 60, 0.93, True),
    Product("SDWAN", "SD-WAN", "Network", "GB", 420.0, 10, 350.0, False),
    Product("MPLS", "MPLS", "Network", "GB", 950.0, 6, 900.0, False),
    Product("DIA", "Dedicated Internet Access", "Internet", "GB", 1100.0, 3, 4000.0, False),
    Product("SIP-UC", "SIP Trunking / Unified Communications", "Voice & Collaboration", "minutes", 18.0, 150, 420.0, True),
    Product("IOT", "IoT Connectivity", "IoT", "devices", 2.5, 1200, 0.9, True),
    Product("MSS", "Managed Security", "Security", "devices", 85.0, 25, 1.0, True),
    Product("CCAAS", "Cloud Contact Centre", "Customer Experience", "minutes", 110.0, 25, 2600.0, True),
)
# How likely each industry buys each product (rows: INDUSTRIES, columns: PRODUCTS).
PRODUCT_AFFINITY = np.array(
    [
        [3, 3, 4, 3, 3, 0.5, 4, 3],
        [2, 5, 1, 2, 2, 3, 2, 3],
        [3, 3, 3, 2, 2, 4, 2, 1],
        [3, 3, 2, 2, 4, 2, 3, 2],
        [5, 3, 1, 2, 2, 5, 1, 2],
        [3, 2, 4, 3, 3, 1, 3, 2],
        [2, 2, 1, 5, 3, 0.5, 2, 1],
        [3, 2, 3, 2, 2, 5, 3, 1],
        [2, 4, 1, 5, 2, 2, 3, 2],
        [3, 3, 1, 3, 3, 1, 1, 4],
        [4, 3, 1, 3, 4, 0.5, 3, 2],
        [2, 2, 3, 4, 3, 2, 2, 2],
    ]
)
# Seasonal usage multiplier by calendar month (Jan..Dec): a summer and a December dip.
SEASONALITY = np.array([1.00, 1.01, 1.03, 1.02, 1.02, 0.99, 0.95, 0.92, 1.02, 1.04, 1.03, 0.94])

# People.  Display names may carry accents; emails use the ASCII form.
_FIRST = {
    "en": "James Mary John Patricia Robert Jennifer Michael Linda William Elizabeth David Susan Richard Jessica "
          "Thomas Sarah Daniel Karen Matthew Nancy Andrew Emily Mark Olivia Paul Emma Steven Laura Kevin Rachel",
    "de": "Lukas Anna Jonas Lena Felix Laura Maximilian Julia Paul Sarah Leon Katharina Tobias Sophie Jan Hannah "
          "Florian Lisa Stefan Miriam Jürgen Birgit Matthias Claudia Sebastian Anja",
    "fr": "Lucas Camille Hugo Léa Louis Chloé Jules Manon Arthur Inès Nicolas Julie Thomas Céline Antoine Élodie "
          "Mathieu Sophie Pierre Aurélie",
    "es": "Alejandro Lucía Pablo María Javier Carmen Diego Laura Sergio Paula Carlos Marta Jorge Elena Miguel "
          "Sofía Andrés Isabel Raúl Ana",
    "pt": "João Ana Pedro Mariana Lucas Beatriz Gabriel Juliana Rafael Camila Bruno Larissa Thiago Fernanda "
          "Felipe Letícia Gustavo Patrícia",
    "it": "Marco Giulia Luca Francesca Alessandro Chiara Matteo Sara Andrea Valentina Davide Elena Simone Martina "
          "Federico Paola Stefano Silvia",
    "nl": "Daan Emma Sem Julia Lucas Sophie Bram Lotte Thijs Anouk Jeroen Sanne Pieter Eva Koen Femke Bas Lieke",
    "sv": "Erik Anna Lars Karin Johan Maria Anders Emma Per Sara Nils Ingrid Oskar Elin Magnus Linnea",
    "ja": "Hiroshi Yuki Takashi Aiko Kenji Emi Satoshi Haruka Daisuke Naoko Kazuki Mai Ryo Sakura Tomoya Yui",
    "in": "Aarav Priya Rahul Ananya Vikram Neha Arjun Pooja Rohan Kavya Sanjay Divya Amit Sneha Karan Meera",
    "ar": "Omar Fatima Ahmed Layla Khalid Aisha Yousef Mariam Hassan Noor Ali Sara Faisal Huda",
    "zh": "Wei Mei Jun Li Hao Xin Ming Ying Jian Hui Chen Lin Kai Yan Tan Rui",
    "pl": "Piotr Anna Krzysztof Katarzyna Tomasz Magdalena Paweł Agnieszka Marcin Joanna Michał Ewa",
}
_LAST = {
    "en": "Smith Johnson Williams Brown Jones Miller Davis Wilson Anderson Taylor Thomas Moore Martin Jackson "
          "Thompson White Harris Clark Lewis Walker Hall Allen Young King Wright Scott Green Baker Adams Carter "
          "O'Brien Murphy Kelly Hughes Evans",
    "de": "Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Koch Richter Klein Wolf "
          "Schröder Neumann Schwarz Zimmermann Braun Krüger Hofmann Hartmann Lange Werner Krause Vogel",
    "fr": "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent Lefèvre Michel "
          "Garcia David Bertrand Roux Fontaine Girard",
    "es": "García Fernández González Rodríguez López Martínez Sánchez Pérez Gómez Martín Jiménez Ruiz Hernández "
          "Díaz Moreno Álvarez Romero Navarro",
    "pt": "Silva Santos Oliveira Souza Rodrigues Ferreira Alves Pereira Lima Gomes Costa Ribeiro Martins Carvalho "
          "Almeida Lopes",
    "it": "Rossi Russo Ferrari Esposito Bianchi Romano Colombo Ricci Marino Greco Bruno Gallo Conti De Luca "
          "Costa Giordano Mancini Rizzo",
    "nl": "de Jong Jansen de Vries van den Berg van Dijk Bakker Janssen Visser Smit Meijer de Boer Mulder "
          "de Groot Bos Vos Peters Hendriks",
    "sv": "Andersson Johansson Karlsson Nilsson Eriksson Larsson Olsson Persson Svensson Gustafsson Pettersson "
          "Jonsson Lindberg Lindqvist",
    "ja": "Sato Suzuki Takahashi Tanaka Watanabe Ito Yamamoto Nakamura Kobayashi Kato Yoshida Yamada Sasaki "
          "Yamaguchi Matsumoto Inoue",
    "in": "Sharma Verma Gupta Patel Singh Kumar Reddy Iyer Nair Mehta Joshi Rao Desai Kapoor Chopra Malhotra",
    "ar": "Al-Mansouri Al-Hashimi Haddad Khalil Nasser Saleh Farouk Rahman Al-Farsi Hamdan Qasim Aziz",
    "zh": "Tan Lim Lee Ng Ong Wong Goh Chua Chan Koh Teo Ang Yeo Chen Liu Huang",
    "pl": "Nowak Kowalski Wiśniewski Wójcik Kowalczyk Kamiński Lewandowski Zieliński Szymański Woźniak",
}
_MULTIWORD_LAST = {"de Jong", "van den Berg", "van Dijk", "de Vries", "de Boer", "de Groot", "De Luca"}


def _split_names(text: str) -> list[str]:
    # Multi-word surnames are written with single spaces in the source strings.
    words = text.split()
    out: list[str] = []
    i = 0
    while i < len(words):
        for n in (3, 2):
            cand = " ".join(words[i:i + n])
            if cand in _MULTIWORD_LAST:
                out.append(cand)
                i += n
                break
        else:
            out.append(words[i])
            i += 1
    return out


NAME_POOLS: tuple[str, ...] = tuple(_FIRST)
FIRST_NAMES: dict[str, tuple[str, ...]] = {k: tuple(v.split()) for k, v in _FIRST.items()}
LAST_NAMES: dict[str, tuple[str, ...]] = {k: tuple(_split_names(v)) for k, v in _LAST.items()}

_TRANSLIT = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ł": "l", "Ł": "L"})


def email_local(name: str) -> str:
    """The ASCII, lower-case form of a name as it appears in an email address."""
    text = unicodedata.normalize("NFKD", name.translate(_TRANSLIT))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return "".join(ch for ch in text.lower() if ch.isalnum())


TITLES: tuple[str, ...] = (
    "CIO", "CTO", "IT Director", "Head of IT", "Head of Network Operations", "Network Manager", "IT Manager",
    "Telecoms Manager", "Procurement Manager", "Category Manager - Technology", "Finance Director", "CFO",
    "Facilities Manager", "Network Engineer", "Infrastructure Architect", "Operations Director",
    "Head of Customer Service", "Security Manager", "Fleet Manager", "Office Manager",
)
TITLE_WEIGHTS = np.array([3, 2, 6, 5, 4, 6, 8, 5, 6, 2, 3, 1, 4, 6, 3, 3, 2, 3, 2, 3], dtype=float)
# Shared mailboxes recorded as contacts: (LastName, local part of the address).
MAILBOXES: tuple[tuple[str, str], ...] = (
    ("Accounts Payable", "ap"), ("Billing", "billing"), ("Info", "info"), ("IT Helpdesk", "it"),
    ("Procurement", "procurement"),
)
FREEMAIL: tuple[str, ...] = ("gmail.com", "outlook.com", "yahoo.com", "hotmail.com", "gmx.de", "web.de", "icloud.com")

SELLER_DOMAIN = "telvanta.com"  # the telco whose book of business this is
USER_ROLES: tuple[str, ...] = ("Account Executive", "Key Account Manager", "Regional Sales Director", "Customer Success Manager")

CASE_TYPES: tuple[str, ...] = ("Problem", "Incident", "Question", "Service Request", "Billing")
CASE_TYPE_WEIGHTS = np.array([30, 25, 15, 20, 10], dtype=float)
CASE_ORIGINS: tuple[str, ...] = ("Phone", "Email", "Web", "Portal")
CASE_ORIGIN_WEIGHTS = np.array([35, 30, 20, 15], dtype=float)
# Subject templates per case type; "{p}" is the product the case is about.
CASE_SUBJECTS: tuple[tuple[str, ...], ...] = (
    ("{p} service down at branch site", "{p}: intermittent packet loss", "{p} degraded performance", "{p} outage"),
    ("{p}: loss of service", "Major incident - {p}", "{p} latency above SLA", "{p} link flapping"),
    ("Question about {p} configuration", "{p} usage report request", "How to add users to {p}"),
    ("Add new site to {p}", "{p} change request", "Move/add/change - {p}", "Port number to {p}"),
    ("Invoice query", "Credit note request", "Billing address change", "Disputed charges on {p}"),
)
MEETING_SUBJECTS: tuple[str, ...] = (
    "Account planning", "Network design workshop", "Renewal discussion", "Executive sponsor check-in",
    "Monthly service review", "Site survey", "Roadmap briefing", "Security assessment readout",
    "Contact centre demo", "Project kickoff",
)
TASK_SUBJECTS: dict[str, tuple[str, ...]] = {
    "Call": ("Call: check-in", "Call: follow-up on open case", "Call: renewal timing", "Call: usage review",
             "Call: introduce new account manager"),
    "Email": ("Email: renewal quote", "Email: invoice copy", "Email: usage report", "Email: proposal sent",
              "Email: meeting follow-up"),
}


# Flattened lookup tables, so generators can index cities and phone layouts with arrays.
CITY_COUNTRY = np.array([ci for ci, c in enumerate(COUNTRIES) for _ in c.cities])
CITY_NAMES: tuple[str, ...] = tuple(city.name for c in COUNTRIES for city in c.cities)
COUNTRY_CITY_COUNT = np.array([len(c.cities) for c in COUNTRIES])
COUNTRY_CITY_START = np.cumsum(COUNTRY_CITY_COUNT) - COUNTRY_CITY_COUNT
PHONE_TEMPLATES: tuple[str, ...] = tuple(
    f.format(a=city.area, s=city.subscriber) for c in COUNTRIES for city in c.cities for f in c.phone_formats
)
CITY_PHONE_COUNT = np.array([len(c.phone_formats) for c in COUNTRIES for _ in c.cities])
CITY_PHONE_START = np.cumsum(CITY_PHONE_COUNT) - CITY_PHONE_COUNT
COUNTRY_CURRENCY = np.array([CURRENCIES.index(c.currency) for c in COUNTRIES])
COUNTRY_REGION = np.array([REGIONS.index(c.region) for c in COUNTRIES])
COUNTRY_WEIGHTS = np.array([c.weight for c in COUNTRIES])
COUNTRY_NAME_POOL = np.array([NAME_POOLS.index(c.names) for c in COUNTRIES])
# Per city: an international ("+..") layout, for numbers that are dialled from abroad.
CITY_INTL_TEMPLATE = np.array([
    start + next(i for i in range(count) if PHONE_TEMPLATES[start + i].startswith("+"))
    for start, count in zip(CITY_PHONE_START, CITY_PHONE_COUNT, strict=True)
])
