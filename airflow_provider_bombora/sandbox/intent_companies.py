"""The sandbox's companies and their intent scores, computed on demand from a seed.

Nothing is stored: company ``k`` of ``count`` (``0 <= k < count``) and its score on a topic in a
week come from a cheap integer hash, so a page of rows costs what its index range costs, however
many companies there are.

Domains are distinct and increase with ``k``: company ``k`` takes one slot of a sorted space of
names (``<first><second>`` and ``<first><second><third>``), from the ``k``-th of ``count`` equal
buckets of it. Both word lists are prefix-free, so a name splits into its words one way only and
names sort as their words do; the ``.`` before the top-level domain sorts before any letter, so
domains sort as their names.
"""

from __future__ import annotations

from itertools import pairwise
from typing import TypeVar

T = TypeVar("T")

_MASK = (1 << 64) - 1

FIRST_WORDS = (
    "acme", "alpine", "amber", "anchor", "apex", "arbor", "arctic", "argent", "arrow", "ash", "aspen", "astral",
    "atlas", "aurora", "azure", "badger", "bay", "beacon", "bear", "birch", "bison", "black", "blaze", "bloom", "blue",
    "bolt", "bramble", "bright", "brook", "cairn", "canyon", "cardinal", "cedar", "cinder", "citrus", "clear", "cliff",
    "clover", "cobalt", "comet", "copper", "coral", "crane", "crest", "crimson", "crystal", "cypress", "dawn", "delta",
    "desert", "dune", "eagle", "east", "ember", "emerald", "fable", "falcon", "fern", "fir", "flint", "fox", "frost",
    "garnet", "giant", "glacier", "golden", "granite", "graphite", "green", "grove", "gull", "harbor", "hawk", "hazel",
    "heron", "highland", "hollow", "horizon", "indigo", "iris", "iron", "ivory", "jade", "jasper", "juniper", "kestrel",
    "keystone", "kite", "lake", "lantern", "larch", "laurel", "lime", "linden", "lotus", "lumen", "lunar", "lynx",
    "magnet", "maple", "marble", "meadow", "mercury", "mesa", "meteor", "midnight", "mint", "monarch", "moss",
    "mountain", "nimbus", "noble", "north", "oak", "obsidian", "ocean", "olive", "onyx", "opal", "orbit", "orchid",
    "osprey", "otter", "owl", "palm", "panther", "pearl", "pebble", "pelican", "pepper", "pine", "pioneer", "pixel",
    "plum", "polar", "poplar", "prairie", "prism", "pulse", "quartz", "quill", "rapid", "raven", "redwood", "reef",
    "ridge", "river", "robin", "rose", "ruby", "rust", "sable", "saffron", "sage", "salt", "sand", "sapphire",
    "scarlet", "sequoia", "shadow", "sierra", "silver", "slate", "solar", "sparrow", "spruce", "stellar", "stone",
    "storm", "summit", "sun", "swift", "tango", "teal", "tempest", "thunder", "tide", "tiger", "timber", "topaz",
    "torch", "trail", "true", "tulip", "tundra", "twin", "umber", "valley", "vanguard", "velvet", "verdant", "vertex",
    "violet", "vista", "walnut", "west", "willow", "wind", "winter", "wolf", "wren", "zenith", "zephyr"
)  # fmt: skip
SECOND_WORDS = (
    "analytics", "apps", "bank", "base", "bio", "brands", "bridge", "build", "capital", "care", "cloud", "code",
    "commerce", "connect", "consulting", "core", "data", "design", "devices", "digital", "direct", "dynamics", "edge",
    "energy", "engineering", "equity", "foods", "forge", "freight", "fuel", "fund", "gear", "global", "goods", "grid",
    "group", "health", "hub", "industries", "infra", "insights", "interactive", "labs", "land", "legal", "link",
    "logic", "logistics", "loop", "media", "medical", "metrics", "mobile", "motion", "networks", "one", "partners",
    "path", "pay", "pharma", "point", "ports", "power", "pro", "quest", "retail", "robotics", "route", "scale",
    "science", "secure", "sense", "shift", "signal", "soft", "solutions", "source", "sphere", "spring", "stack",
    "station", "studio", "supply", "systems", "talent", "tech", "telecom", "trade", "travel", "ventures", "verse",
    "view", "vision", "wave", "works", "yard", "zone"
)  # fmt: skip
# Per (first, second) pair: the two-word name, then a third word from SECOND_WORDS other than
# the second (no "datadata").
_SLOTS_PER_PAIR = len(SECOND_WORDS)
NAME_SLOTS = len(FIRST_WORDS) * len(SECOND_WORDS) * _SLOTS_PER_PAIR
MAX_COMPANIES = 1_000_000  # at most half the slots, so that a bucket always holds two or more

# Out of 100; .edu and .co.uk companies get matching industries and headquarters.
_TLDS = (("com", 70), ("io", 8), ("co.uk", 6), ("edu", 5), ("net", 4), ("co", 3), ("ai", 2), ("org", 2))
INDUSTRIES = (
    "Software", "Financial Services", "Healthcare", "Manufacturing", "Retail", "Telecommunications",
    "Media and Entertainment", "Professional Services", "Transportation and Logistics", "Energy and Utilities",
    "Insurance", "Real Estate", "Hospitality", "Construction", "Pharmaceuticals", "Government",
)  # fmt: skip
COMPANY_SIZES = (
    "Micro (1 - 9 Employees)", "Small (10 - 49 Employees)", "Medium-Small (50 - 199 Employees)",
    "Medium (200 - 499 Employees)", "Medium-Large (500 - 999 Employees)", "Large (1,000 - 4,999 Employees)",
    "XLarge (5,000 - 10,000 Employees)", "XXLarge (10,000+ Employees)",
)  # fmt: skip
REVENUES = (
    "Less than $1M", "$1M - $10M", "$10M - $50M", "$50M - $100M", "$100M - $200M", "$200M - $1B",
    "$1B - $5B", "More than $5B",
)  # fmt: skip
# (country, state (US and CA only), city, start of the postal code, digits that follow it)
CITIES = (
    ("US", "NY", "New York", "100", 2), ("US", "CA", "San Francisco", "941", 2), ("US", "TX", "Austin", "787", 2),
    ("US", "MA", "Boston", "021", 2), ("US", "IL", "Chicago", "606", 2), ("US", "WA", "Seattle", "981", 2),
    ("US", "GA", "Atlanta", "303", 2), ("US", "CO", "Denver", "802", 2), ("US", "NC", "Raleigh", "276", 2),
    ("CA", "ON", "Toronto", "M5V", 0), ("CA", "BC", "Vancouver", "V6B", 0), ("DE", None, "Berlin", "10", 3),
    ("FR", None, "Paris", "750", 2), ("NL", None, "Amsterdam", "10", 2), ("AU", None, "Sydney", "20", 2),
    ("SG", None, "Singapore", "0", 5), ("IN", None, "Bangalore", "560", 3),
)  # fmt: skip
UK_CITIES = (
    ("GB", None, "London", "SW1A", 0), ("GB", None, "Manchester", "M1", 0), ("GB", None, "Edinburgh", "EH1", 0),
)  # fmt: skip
_GB_LETTERS = tuple("ABDEFGHJLNPQRSTUWXYZ")  # the letters of a UK postcode's second half
_CA_LETTERS = tuple("ABCEGHJKLMNPRSTVWXYZ")
STREETS = ("Main", "Market", "Park", "Oak", "Pine", "Maple", "Cedar", "Lake", "Hill", "Church", "Mill", "Bridge")
STREET_KINDS = ("Street", "Avenue", "Road", "Boulevard", "Way", "Lane")


def _check_prefix_free(words: tuple[str, ...]) -> None:
    for word, following in pairwise(words):
        if word >= following or following.startswith(word):
            raise ValueError(f"Word lists must be sorted and prefix-free: {word!r}, {following!r}")


_check_prefix_free(FIRST_WORDS)
_check_prefix_free(SECOND_WORDS)


def mix(*values: int) -> int:
    """A 64-bit hash of ``values`` (splitmix64 steps): the same on every machine and run."""
    state = 0x9E3779B97F4A7C15
    for value in values:
        state = (state ^ (value & _MASK)) * 0xBF58476D1CE4E5B9 & _MASK
        state = (state ^ (state >> 31)) * 0x94D049BB133111EB & _MASK
        state ^= state >> 29
    return state


def week_of(ordinal: int) -> int:
    """The week number (Monday to Sunday) of a ``date.toordinal()``: 1 January of year 1 was a Monday."""
    return (ordinal - 1) // 7


# Salts that keep the hashes of different facts apart.
_SLOT, _TLD, _FIRMOGRAPHICS, _PRESENCE, _LASTING_SCORE, _WEEKLY_SCORE = range(1, 7)


class Companies:
    """``count`` companies of the data set ``seed``."""

    def __init__(self, seed: int, count: int) -> None:
        if not 1 <= count <= MAX_COMPANIES:
            raise ValueError(f"count must be from 1 to {MAX_COMPANIES}")
        self.seed = seed
        self.count = count

    def _slot(self, index: int) -> int:
        low, high = index * NAME_SLOTS // self.count, (index + 1) * NAME_SLOTS // self.count
        pick = mix(self.seed, _SLOT, index)
        first_two_word_slot = -(-low // _SLOTS_PER_PAIR) * _SLOTS_PER_PAIR
        if first_two_word_slot < high and pick % 4 != 0:  # short names are the more common
            return first_two_word_slot
        return low + (pick >> 8) % (high - low)

    def words(self, index: int) -> tuple[str, ...]:
        pair, third = divmod(self._slot(index), _SLOTS_PER_PAIR)
        first, second = divmod(pair, len(SECOND_WORDS))
        if third == 0:
            return FIRST_WORDS[first], SECOND_WORDS[second]
        third -= 1
        return FIRST_WORDS[first], SECOND_WORDS[second], SECOND_WORDS[third + (third >= second)]

    def tld(self, index: int) -> str:
        roll = mix(self.seed, _TLD, index) % 100
        for tld, weight in _TLDS:
            if roll < weight:
                return tld
            roll -= weight
        raise AssertionError("the TLD weights add up to 100")

    def domain(self, index: int) -> str:
        return f"{''.join(self.words(index))}.{self.tld(index)}"

    def company(self, index: int) -> dict:
        """The ``company`` attribute of company ``index``: name, industry, size, revenue, hq."""
        tld = self.tld(index)
        name = " ".join(word.capitalize() for word in self.words(index))
        draw = _Draws(mix(self.seed, _FIRMOGRAPHICS, index))
        size = draw(len(COMPANY_SIZES))
        revenue = min(max(size + draw(3) - 1, 0), len(REVENUES) - 1)  # grows with size, give or take a band
        country, state, city, postal_prefix, postal_digits = draw.choice(UK_CITIES if tld == "co.uk" else CITIES)
        industry = draw.choice(INDUSTRIES)
        if country == "GB":
            postal_code = f"{postal_prefix} {1 + draw(9)}{draw.choice(_GB_LETTERS)}{draw.choice(_GB_LETTERS)}"
        elif country == "CA":
            postal_code = f"{postal_prefix} {draw(10)}{draw.choice(_CA_LETTERS)}{draw(10)}"
        else:
            postal_code = f"{postal_prefix}{draw(10**postal_digits):0{postal_digits}d}"
        return {
            "name": f"{name} University" if tld == "edu" else name,
            "industry": "Education" if tld == "edu" else industry,
            "size": COMPANY_SIZES[size],
            "revenue": REVENUES[revenue],
            "hq": {
                "address": f"{1 + draw(998)} {draw.choice(STREETS)} {draw.choice(STREET_KINDS)}",
                "address2": f"Suite {100 + draw(900)}" if draw(3) == 0 else None,
                "country": country,
                "state": state,
                "city": city,
                "zip": postal_code,
            },
        }


class _Draws:
    """Small independent draws from one 64-bit hash, a few bits each (enough for a dozen)."""

    def __init__(self, bits: int) -> None:
        self.bits = bits

    def __call__(self, choices: int) -> int:
        self.bits, drawn = divmod(self.bits, choices)
        return drawn

    def choice(self, values: tuple[T, ...]) -> T:
        return values[self(len(values))]


class TopicScores:
    """The scores (0-100) of the companies of data set ``seed`` on one topic in one week.

    Three fifths of a score stay from week to week, two fifths change each week; whether a
    company shows intent at all is drawn each week, at a rate of the topic's (30 to 60%).
    """

    def __init__(self, seed: int, topic_id: int, week: int) -> None:
        self.lasting_key = mix(seed, _LASTING_SCORE, topic_id)
        self.weekly_key = mix(seed, _WEEKLY_SCORE, topic_id, week)
        self.per_mille = 300 + mix(seed, _PRESENCE, topic_id) % 301

    def score(self, index: int) -> int | None:
        """Company ``index``'s score, or None if it shows no intent on the topic that week."""
        weekly = mix(self.weekly_key, index)
        if weekly % 1000 >= self.per_mille:
            return None
        return (3 * (mix(self.lasting_key, index) % 101) + 2 * ((weekly >> 16) % 101)) // 5
