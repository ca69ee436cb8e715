"""What ``POST /intent/v1/data`` asks for, and the rows that answer it, computed page by page.

The row model: without the ``topic`` attribute, one row per company showing intent on at least
one requested topic, its ``score`` the strongest over them (for a signal definition, each topic's
score times its weighting, rounded); with ``topic``, one row per company and topic with intent.
Rows come in domain order (then in the order of the topics), each at a position (company index,
times the number of topics with ``topic``) from which a page token resumes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from airflow_provider_bombora.sandbox.intent_companies import Companies, TopicScores
from airflow_provider_bombora.sandbox.state import ApiError
from airflow_provider_bombora.sandbox.topics import Topic

DEFAULT_ATTRIBUTES = ("domain", "score", "scoreLabel")
ATTRIBUTES = (
    "domain", "topic", "score", "scoreLabel", "topicsCount", "topics", "topics.id", "topics.name",
    "topics.score", "areasOfInterest", "company", "company.name", "company.industry", "company.size",
    "company.revenue", "company.hq", "company.hq.address", "company.hq.address2", "company.hq.country",
    "company.hq.state", "company.hq.city", "company.hq.zip",
)  # fmt: skip
# Bombora's, but not modelled by the sandbox.
UNMODELLED_ATTRIBUTES = ("researchCountry", "researchState", "researchMetro", "personas", "topics.personas")
NUMERIC_FILTER_ATTRIBUTES = ("score", "topicsCount")
TEXT_FILTER_ATTRIBUTES = (
    "domain", "topic", "company.name", "company.industry", "company.size", "company.revenue",
    "company.hq.address", "company.hq.country", "company.hq.state", "company.hq.city", "company.hq.zip",
)  # fmt: skip
COMPARISONS = ("eq", "neq", "in", "nin", "gt", "gte", "lt", "lte")
ACCOUNT_LIST_PREFIX = "accountList:"

STRONG, MEDIUM = 80, 60  # score thresholds of the labels; Bombora calls 60 and above surging


def score_label(score: int) -> str:
    if score >= STRONG:
        return "Strong"
    return "Medium" if score >= MEDIUM else "Weak"


def _unprocessable(message: str) -> ApiError:
    return ApiError(422, message)


# Attributes: the requested paths as a tree (name -> subtree, None = all of it)

Projection = dict[str, Any]


def parse_attributes(value: Any, per_topic: bool) -> Projection:
    """``attributes`` as a projection tree; ``domain`` (and ``topic``, a key of a per-topic row)
    always come first, as every row's key."""
    if value is None or value == []:
        value = list(DEFAULT_ATTRIBUTES)
    if not (isinstance(value, list) and all(isinstance(name, str) for name in value)):
        raise ApiError(400, "attributes must be an array of attribute names")
    for name in value:
        if name in UNMODELLED_ATTRIBUTES:
            raise _unprocessable(f"Attribute {name} is not modelled by the sandbox")
        if name not in ATTRIBUTES:
            raise _unprocessable(f"Unknown attribute {name!r}; known: {', '.join(ATTRIBUTES)}")
    if per_topic and any(name == "topics" or name.startswith("topics.") for name in value):
        raise _unprocessable("The topics attributes cannot be used alongside topic")
    tree: Projection = {}
    for name in ["domain", *(["topic"] if per_topic else []), *value]:
        node = tree
        *parents, leaf = name.split(".")
        for part in parents:
            if part in node and node[part] is None:
                break  # the whole of it is already asked for
            node = node.setdefault(part, {})
        else:
            node[leaf] = None
    return tree


def project(value: Any, tree: Projection | None) -> Any:
    if tree is None:
        return value
    if isinstance(value, list):
        return [project(item, tree) for item in value]
    return {name: project(value[name], subtree) for name, subtree in tree.items()}


# Filters: compiled once, when the POST is made, into a predicate over a row's full document

Predicate = Callable[[dict], bool]


def _lookup(document: dict, path: str) -> Any:
    value: Any = document
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _number(value: Any, where: str) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise _unprocessable(f"{where} must be a number")


def _text_matcher(value: Any, where: str, account_list_domains: Callable[[str], set[str]]) -> Callable[[Any], bool]:
    """Case-insensitive equality where ``*`` matches any run of characters; ``accountList:<id>``
    matches the domains of that account list (as applied when the POST is made)."""
    if not isinstance(value, str):
        raise _unprocessable(f"{where} must be a string")
    if value.startswith(ACCOUNT_LIST_PREFIX):
        domains = account_list_domains(value[len(ACCOUNT_LIST_PREFIX) :])
        return lambda actual: actual in domains
    pattern = re.compile(".*".join(re.escape(part) for part in value.split("*")), re.IGNORECASE)
    return lambda actual: isinstance(actual, str) and pattern.fullmatch(actual) is not None


def _values(value: Any, where: str) -> list:
    if not (isinstance(value, list) and value):
        raise _unprocessable(f"{where} must be a non-empty array")
    return value


def compile_filter(
    spec: Any, per_topic: bool, account_list_domains: Callable[[str], set[str]], where: str = "filter"
) -> Predicate:
    """``{"a": attribute, <comparison>: value}``, or ``{"and": [...]}`` / ``{"or": [...]}`` of them;
    a malformed filter is answered 422."""
    if not isinstance(spec, dict):
        raise _unprocessable(f"{where} must be a JSON object")
    for joiner, combine in (("and", all), ("or", any)):
        if joiner in spec:
            if set(spec) != {joiner}:
                raise _unprocessable(f"{where}: {joiner} takes no other keys")
            parts = [
                compile_filter(part, per_topic, account_list_domains, f"{where}.{joiner}[{position}]")
                for position, part in enumerate(_values(spec[joiner], f"{where}.{joiner}"))
            ]
            return lambda document: combine(part(document) for part in parts)
    attribute = spec.get("a")
    comparisons = [key for key in spec if key != "a"]
    if len(comparisons) != 1 or comparisons[0] not in COMPARISONS:
        raise _unprocessable(f"{where} must have an attribute a and one of {', '.join(COMPARISONS)} (or and/or)")
    [comparison] = comparisons
    operand, described = spec[comparison], f"{where}.{comparison}"
    if attribute == "topic" and not per_topic:
        raise _unprocessable(f"{where}: filtering on topic needs the topic attribute")
    if attribute in NUMERIC_FILTER_ATTRIBUTES:
        compare = _numeric_comparison(comparison, operand, described)
    elif attribute in TEXT_FILTER_ATTRIBUTES:
        compare = _text_comparison(comparison, operand, described, account_list_domains)
    else:
        filterable = ", ".join((*NUMERIC_FILTER_ATTRIBUTES, *TEXT_FILTER_ATTRIBUTES))
        raise _unprocessable(f"{where}: cannot filter on {attribute!r}; filterable: {filterable}")
    return lambda document: compare(_lookup(document, attribute))


def _numeric_comparison(comparison: str, operand: Any, where: str) -> Callable[[Any], bool]:
    if comparison in ("in", "nin"):
        numbers = {_number(value, where) for value in _values(operand, where)}
        return (lambda actual: actual in numbers) if comparison == "in" else (lambda actual: actual not in numbers)
    number = _number(operand, where)
    tests: dict[str, Callable[[float], bool]] = {
        "eq": lambda actual: actual == number,
        "neq": lambda actual: actual != number,
        "gt": lambda actual: actual > number,
        "gte": lambda actual: actual >= number,
        "lt": lambda actual: actual < number,
        "lte": lambda actual: actual <= number,
    }
    return tests[comparison]


def _text_comparison(
    comparison: str, operand: Any, where: str, account_list_domains: Callable[[str], set[str]]
) -> Callable[[Any], bool]:
    if comparison in ("gt", "gte", "lt", "lte"):
        raise _unprocessable(f"{where}: {comparison} compares numbers (score, topicsCount) only")
    operands = _values(operand, where) if comparison in ("in", "nin") else [operand]
    matchers = [_text_matcher(value, where, account_list_domains) for value in operands]
    if comparison in ("eq", "in"):
        return lambda actual: any(matches(actual) for matches in matchers)
    return lambda actual: not any(matches(actual) for matches in matchers)


# The query and its rows


@dataclass(frozen=True)
class IntentQuery:
    """One ``POST /intent/v1/data``, with the settings of that moment: its rows never change."""

    companies: Companies
    week: int
    topics: tuple[tuple[Topic, float], ...]  # with their weightings (1 for a list of topics)
    per_topic: bool
    projection: Projection
    predicate: Predicate | None
    max_page_bytes: int

    @property
    def _needs_company(self) -> bool:
        return "company" in self.projection or self.predicate is not None

    def rows(self, position: int = 0) -> Iterator[tuple[int, dict]]:
        """The rows from ``position`` on, each with its own position."""
        topic_count = len(self.topics)
        first_company, first_topic = divmod(position, topic_count) if self.per_topic else (position, 0)
        scorers = [
            (place, topic, weighting, TopicScores(self.companies.seed, topic.id, self.week).score)
            for place, (topic, weighting) in enumerate(self.topics)
        ]
        for index in range(first_company, self.companies.count):
            scores = []
            for place, topic, weighting, topic_score in scorers:
                score = topic_score(index)
                if score is not None:
                    scores.append((place, topic, score, round(score * weighting)))
            if not scores:
                continue
            document = self._document(index, scores)
            if not self.per_topic:
                if self.predicate is None or self.predicate(document):
                    yield index, project(document, self.projection)
                continue
            for place, topic, _, weighted in scores:
                if index == first_company and place < first_topic:
                    continue
                row_document = {**document, "topic": topic.name, "score": weighted, "scoreLabel": score_label(weighted)}
                if self.predicate is None or self.predicate(row_document):
                    yield index * topic_count + place, project(row_document, self.projection)

    def _document(self, index: int, scores: Sequence[tuple[int, Topic, int, int]]) -> dict:
        """Everything a row of company ``index`` can show, from its (place, topic, score, weighted score)."""
        strongest = max(weighted for _, _, _, weighted in scores)
        by_score = sorted(scores, key=lambda item: -item[2])  # stable: ties keep the topics' order
        document = {
            "domain": self.companies.domain(index),
            "score": strongest,
            "scoreLabel": score_label(strongest),
            "topicsCount": len(scores),
            "topics": [{"id": topic.id, "name": topic.name, "score": score} for _, topic, score, _ in scores],
            "areasOfInterest": [topic.name for _, topic, _, _ in by_score],
        }
        if self._needs_company:
            document["company"] = self.companies.company(index)
        return document
