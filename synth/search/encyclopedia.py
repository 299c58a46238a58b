"""The embedded default corpus: a seeded encyclopedia of fictional long-tail entities.

People, places, organisations and works with typed attributes (occupations, kinds, years,
populations, page and member counts) and relations (birthplace, teacher, founder,
headquarters, author, publisher), rendered as article text in a fixed grammar. It works on any
machine, and no model has seen its entities, so questions about them can only be answered by
searching. `PATTERNS` says where each fact sits in that grammar.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

from synth.data import load_json
from synth.search.corpus import Document
from synth.search.facts import FactPattern, with_article

URL_ROOT = "https://encyclopedia.invalid/wiki/"  # .invalid never resolves (RFC 2606)
DEFAULT_SIZE = 1200

_Y = r"(\d{4})"
PATTERNS = (
    FactPattern(regex=r"was an? ([a-z]+(?: [a-z]+)?) from", kind="phrase",
                clue="worked as {a_value}"),
    FactPattern(regex=r"from ([A-Z][a-z]+)\.", kind="phrase", clue="came from {value}"),
    FactPattern(regex=r"was born in " + _Y, kind="decade", clue="was born in the {decade}s"),
    FactPattern(regex=r"died in " + _Y, kind="decade", clue="died in the {decade}s"),
    FactPattern(regex=r"born in \d{4} in ([^.]+)\.", kind="link", clue="was born in {that}",
                noun="a place"),
    FactPattern(regex=r"studied under ([^.]+)\.", kind="link", clue="studied under {that}",
                noun="someone"),
    FactPattern(regex=r"\d{4}, \S+ founded (?:the )?([^.]+)\.", kind="link", clue="founded {that}",
                noun="an organisation"),
    FactPattern(regex=r"best-known work is ([^.]+)\.", kind="link",
                clue="is best known for {that}", noun="a work"),
    FactPattern(regex=r"is an? ([a-z]+(?: [a-z]+)?) in [A-Z]", kind="phrase",
                clue="is {a_value}"),
    FactPattern(regex=r"was founded in " + _Y, kind="decade", clue="was founded in the {decade}s"),
    FactPattern(regex=r"population of ([\d,]+)", kind="range",
                clue="had a population between {lo} and {hi} at the last census"),
    FactPattern(regex=r"lies on the (River [A-Z][a-z]+)", kind="phrase",
                clue="lies on the {value}"),
    FactPattern(regex=r"is an? ([a-z]+(?: [a-z]+)?) founded", kind="phrase", clue="is {a_value}"),
    FactPattern(regex=r"founded in " + _Y + " by", kind="decade",
                clue="was founded in the {decade}s"),
    FactPattern(regex=r"founded in \d{4} by ([^.]+)\.", kind="link", clue="was founded by {that}",
                noun="someone"),
    FactPattern(regex=r"headquarters are in ([^.]+)\.", kind="link",
                clue="has its headquarters in {that}", noun="a place"),
    FactPattern(regex=r"had ([\d,]+) members", kind="range",
                clue="had between {lo} and {hi} members"),
    FactPattern(regex=r"is an? ([a-z]+(?: [a-z]+)?) by", kind="phrase", clue="is {a_value}"),
    FactPattern(regex=r"first published in " + _Y, kind="decade",
                clue="was first published in the {decade}s"),
    FactPattern(regex=r"is an? [a-z]+(?: [a-z]+)? by ([^,]+),", kind="link",
                clue="was written by {that}", noun="someone"),
    FactPattern(regex=r"runs to ([\d,]+) pages", kind="range",
                clue="runs to between {lo} and {hi} pages"),
    FactPattern(regex=r"was issued by (?:the )?([^.]+)\.", kind="link", clue="was issued by {that}",
                noun="an organisation"),
)


@dataclass
class _Entity:
    kind: str
    title: str
    year: int
    sentences: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    died: int = 0


class _Names:
    """Unique fictional names from syllables."""

    def __init__(self, rng: random.Random, words: dict) -> None:
        self.rng, self.words, self.taken = rng, words, set()

    def word(self, syllables: int) -> str:
        w = self.words
        text = "".join(self.rng.choice(w["onsets"]) + self.rng.choice(w["vowels"])
                       for _ in range(syllables)) + self.rng.choice(w["codas"])
        return text.capitalize()

    def unique(self, make) -> str:
        for _ in range(1000):
            name = make()
            if name.casefold() not in self.taken:
                self.taken.add(name.casefold())
                return name
        raise RuntimeError("name space exhausted; use a smaller encyclopedia")


def generate_encyclopedia(seed: int = 0, size: int = DEFAULT_SIZE) -> list[Document]:
    """`size` articles (at least 40) drawn from `seed`; the same arguments give the same text."""
    if size < 40:
        raise ValueError(f"encyclopedia size must be at least 40, got {size}")
    rng = random.Random(seed)
    w = load_json("encyclopedia.json")
    names = _Names(rng, w)
    n_places, n_orgs, n_works = size // 5, size // 6, size // 5
    n_people = size - n_places - n_orgs - n_works
    places = [_place(rng, w, names) for _ in range(n_places)]
    people: list[_Entity] = []
    for _ in range(n_people):
        people.append(_person(rng, w, names, places, people))
    orgs = [_organisation(rng, w, names, people, places) for _ in range(n_orgs)]
    works = [_work(rng, w, names, people, orgs) for _ in range(n_works)]
    entities = places + people + orgs + works
    documents, slugs = [], set()
    for entity in entities:
        slug = re.sub(r"[^a-z0-9]+", "-", entity.title.lower()).strip("-")
        while slug in slugs:
            slug += "-x"
        slugs.add(slug)
        documents.append(Document(slug, entity.title, " ".join(entity.sentences),
                                  URL_ROOT + slug, None, tuple(entity.aliases)))
    return documents


def _place(rng: random.Random, w: dict, names: _Names) -> _Entity:
    title = names.unique(lambda: f"{names.word(rng.randint(1, 2))} "
                                 f"{rng.choice(w['place_suffixes'])}")
    year = rng.randint(1050, 1750)
    place = _Entity("place", title, year)
    population = int(10 ** rng.uniform(2.3, 5.6))
    place.sentences += [
        f"{title} is {with_article(rng.choice(w['place_kinds']))} in "
        f"{rng.choice(w['countries'])}.",
        f"It was founded in {year} and had a population of {population:,} at the last census.",
    ]
    if rng.random() < 0.7:
        place.sentences.append(f"It lies on the River {rng.choice(w['rivers'])}.")
    return place


def _person(rng: random.Random, w: dict, names: _Names, places: list[_Entity],
            people: list[_Entity]) -> _Entity:
    given = names.word(rng.randint(1, 2))
    family = names.unique(lambda: f"{given} {names.word(rng.randint(2, 3))}")
    born = rng.randint(1690, 1910)
    person = _Entity("person", family, born, died=born + rng.randint(28, 92))
    pron = rng.choice(("He", "She", "They"))
    was = "were" if pron == "They" else "was"
    person.sentences += [
        f"{family} was {with_article(rng.choice(w['occupations']))} from "
        f"{rng.choice(w['countries'])}.",
        f"{pron} {was} born in {born} in {rng.choice(places).title}.",
        f"{pron} died in {person.died}.",
    ]
    elders = [p for p in people[-200:] if born - 60 < p.year < born - 15]
    if elders and rng.random() < 0.5:
        person.sentences.append(f"{pron} studied under {rng.choice(elders).title}.")
    initial = f"{given[0]}. {family.split(' ', 1)[1]}"
    if rng.random() < 0.5 and initial.casefold() not in names.taken:
        names.taken.add(initial.casefold())
        person.aliases.append(initial)
        person.sentences.append(f"{family} is also known as {initial}.")
    return person


def _organisation(rng: random.Random, w: dict, names: _Names, people: list[_Entity],
                  places: list[_Entity]) -> _Entity:
    kind = rng.choice(w["org_kinds"])
    noun = w["org_nouns"][kind]
    founder, place = rng.choice(people), rng.choice(places)

    def make() -> str:
        named_after = rng.choice(places).title.split(" ")[0]
        return rng.choice(w["org_patterns"]).format(
            place=named_after, noun=noun, plural=rng.choice(w["occupations"]).capitalize() + "s",
            surname=founder.title.split(" ")[-1], country=rng.choice(w["countries"]),
        ).replace("Guild of", f"{names.word(2)} Guild of")

    title = names.unique(make)
    year = rng.randint(founder.year + 22, max(founder.year + 23, founder.died - 1))
    org = _Entity("organisation", title, year)
    org.sentences += [
        f"The {title} is {with_article(kind)} founded in {year} by {founder.title}.",
        f"Its headquarters are in {place.title}.",
        f"It had {rng.randint(12, 2400):,} members in {year + rng.randint(5, 60)}.",
    ]
    surname = founder.title.split(" ")[-1]
    founder.sentences.append(f"In {year}, {surname} founded the {title}.")
    return org


def _work(rng: random.Random, w: dict, names: _Names, people: list[_Entity],
          orgs: list[_Entity]) -> _Entity:
    kind = rng.choice(w["work_kinds"])
    author = rng.choice(people)
    title = names.unique(lambda: f"The {rng.choice(w['work_adjectives'])} "
                                 f"{w['work_nouns'][kind]} of {names.word(2)}")
    year = rng.randint(author.year + 18, max(author.year + 19, author.died))
    work = _Entity("work", title, year)
    work.sentences += [
        f"{title} is {with_article(kind)} by {author.title}, first published in {year}.",
        f"It runs to {rng.randint(24, 1400)} pages.",
    ]
    publishers = [o for o in orgs if o.year <= year]
    if publishers and rng.random() < 0.5:
        work.sentences.append(f"It was issued by the {rng.choice(publishers).title}.")
    if not any("best-known work" in s for s in author.sentences) and rng.random() < 0.6:
        author.sentences.append(f"Their best-known work is {title}." if "They " in
                                " ".join(author.sentences) else
                                f"{'His' if ' He ' in ' ' + ' '.join(author.sentences) else 'Her'}"
                                f" best-known work is {title}.")
    return work
