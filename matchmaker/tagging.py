"""Free text in, suggested tags out: the domain, capability tags and industry a paragraph talks about.

Powers 一键发布 (the user confirms or edits the suggestion) and tags solutions published without
tags. Only vocabulary matching — tag names and synonyms, industry names and synonyms — so a
suggestion never claims more than the words in the text show, and the same text always gives the
same suggestion.
"""

from dataclasses import dataclass

from matchmaker.taxonomy import Taxonomy


@dataclass(frozen=True)
class Suggestion:
    domains: tuple[str, ...]  # domain codes, strongest evidence first
    tags: tuple[str, ...]  # canonical tag names, in order of first mention
    industry: str | None  # industry code


def suggest(text: str, taxonomy: Taxonomy) -> Suggestion:
    """Tags mentioned in `text`, the domains of those tags ranked by evidence, and the industry it names.

    Domain evidence: how many distinct tags of the domain the text mentions, then how often, then how
    early; a domain named outright (e.g. "数据采集") counts as one more tag of it.
    """
    first_seen: dict[str, int] = {}
    mentions: dict[str, int] = {}
    for hit in taxonomy.tag_matcher.find(text):
        for name in hit.keys:
            first_seen.setdefault(name, hit.start)
            mentions[name] = mentions.get(name, 0) + 1
    tags = tuple(sorted(first_seen, key=lambda name: (first_seen[name], name)))

    distinct: dict[str, int] = {}
    occurrences: dict[str, int] = {}
    earliest: dict[str, int] = {}
    for name in tags:
        tag = taxonomy.tag(name)
        if tag is None:
            continue
        distinct[tag.domain] = distinct.get(tag.domain, 0) + 1
        occurrences[tag.domain] = occurrences.get(tag.domain, 0) + mentions[name]
        earliest[tag.domain] = min(earliest.get(tag.domain, first_seen[name]), first_seen[name])
    folded = text.lower()
    for domain in taxonomy.domains:
        position = folded.find(domain.name.lower())
        if position >= 0:
            distinct[domain.code] = distinct.get(domain.code, 0) + 1
            occurrences[domain.code] = occurrences.get(domain.code, 0) + 1
            earliest[domain.code] = min(earliest.get(domain.code, position), position)
    order = {domain.code: i for i, domain in enumerate(taxonomy.domains)}
    domains = tuple(
        sorted(
            distinct,
            key=lambda code: (-distinct[code], -occurrences[code], earliest[code], order.get(code, len(order))),
        )
    )
    return Suggestion(domains=domains, tags=tags, industry=taxonomy.industry_in_text(text))
