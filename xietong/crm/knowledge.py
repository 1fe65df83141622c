"""The knowledge base: articles (one language each, translations linked to their original),
written, translated and published through the services below, shown in the reader's language,
and suggested on a ticket by text similarity.

Similarity is TF-IDF with cosine, in Python, so it ranks the same on SQLite and PostgreSQL:
terms are lower-cased words of letters and digits, and for Chinese (which has no spaces) the
overlapping pairs of characters of each run of CJK characters (a single character counts alone);
the title counts twice. The corpus is the company's published articles (the newest
`CORPUS_LIMIT`), enough for a support desk's knowledge base; idf is smoothed,
log((1 + n) / (1 + df)) + 1."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from xietong.core.audit import audited
from xietong.core.models import Company, User
from xietong.crm.models import KnowledgeArticle, ServiceCategory, Ticket
from xietong.crm.services import CrmError

CORPUS_LIMIT = 2000
WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
STOP = frozenset(["a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have", "how", "i", "in", "is", "it", "my", "of", "on", "or", "our", "the", "this", "to", "was", "we", "what", "when", "with", "you", "your"])  # fmt: skip
Errors = dict[str, list[str]]
LANGUAGES = {code for code, _label in settings.LANGUAGES}


def terms(text: str) -> list[str]:
    """The terms of `text`: latin words (not stop words) and CJK character pairs."""
    text = text.lower()
    out = [w for w in WORD.findall(CJK.sub(" ", text)) if w not in STOP and len(w) > 1]
    for run in CJK.findall(text):
        out.extend([run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)])
    return out


def _document(title: str, body: str) -> list[str]:
    return terms(title) * 2 + terms(body)


def _vector(counts: Counter[str], idf: dict[str, float]) -> dict[str, float]:
    vector = {t: (1 + math.log(n)) * idf.get(t, 0.0) for t, n in counts.items()}
    norm = math.sqrt(sum(v * v for v in vector.values()))
    return {t: v / norm for t, v in vector.items()} if norm else {}


def rank(query: str, documents: Iterable[tuple[Any, str, str]], limit: int = 5
         ) -> list[tuple[Any, float]]:  # fmt: skip
    """The `documents` (key, title, body) most similar to `query` by TF-IDF cosine, best first
    (ties by key order as given), with their score; documents sharing no term are left out."""
    docs = [(key, Counter(_document(title, body))) for key, title, body in documents]
    if not docs:
        return []
    df: Counter[str] = Counter()
    for _key, counts in docs:
        df.update(counts.keys())
    n = len(docs)
    idf = {t: math.log((1 + n) / (1 + d)) + 1 for t, d in df.items()}
    wanted = _vector(Counter(terms(query)), idf)
    scored = []
    for position, (key, counts) in enumerate(docs):
        vector = _vector(counts, idf)
        score = sum(weight * vector.get(t, 0.0) for t, weight in wanted.items())
        if score > 0:
            scored.append((-score, position, key))
    scored.sort()
    return [(key, -neg) for neg, _position, key in scored[:limit]]


# --- reading ------------------------------------------------------------------------------------


def in_language(articles: Iterable[KnowledgeArticle], language: str | None = None
                ) -> list[KnowledgeArticle]:  # fmt: skip
    """One article per group (an original with its translations): the one in `language` (the
    active language by default), else the original, else any; in the order of first appearance."""
    language = (language or get_language() or "").lower()
    groups: dict[int, list[KnowledgeArticle]] = {}
    for article in articles:
        groups.setdefault(article.translation_of_id or article.pk, []).append(article)
    chosen = []
    for root, members in groups.items():
        best = next((a for a in members if a.language.lower() == language), None)
        best = best or next((a for a in members if a.pk == root), None) or members[0]
        chosen.append(best)
    return chosen


def suggestions(ticket: Ticket, *, limit: int = 3, language: str | None = None
                ) -> list[tuple[KnowledgeArticle, float]]:  # fmt: skip
    """Published articles most like the ticket's subject and description (and its customer's
    messages), each shown in `language` (default: the active one), best first with the score."""
    corpus = list(
        KnowledgeArticle.unscoped.filter(company_id=ticket.company_id,
                                         state=KnowledgeArticle.State.PUBLISHED)
        .order_by("-updated_at", "-pk")[:CORPUS_LIMIT]
    )  # fmt: skip
    query = " ".join([ticket.subject, ticket.subject, ticket.description])
    ranked = rank(query, ((a, a.title, a.body) for a in corpus), limit=len(corpus))
    by_group: dict[int, float] = {}
    for article, score in ranked:
        root = article.translation_of_id or article.pk
        by_group[root] = max(by_group.get(root, 0.0), score)
    shown = {(a.translation_of_id or a.pk): a for a in in_language(corpus, language)}
    ordered = sorted(by_group.items(), key=lambda item: (-item[1], item[0]))[:limit]
    return [(shown[root], score) for root, score in ordered if root in shown]


# --- writing ------------------------------------------------------------------------------------


def _fields(company_id: int, data: dict[str, Any], errors: Errors) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "title" in data:
        title = " ".join(str(data["title"] or "").split())
        if not title:
            errors.setdefault("title", []).append(_("This field is required."))
        elif len(title) > 200:
            errors.setdefault("title", []).append(_("Use at most %(n)s characters.") % {"n": 200})
        out["title"] = title
    if "body" in data:
        body = str(data["body"] or "").strip()
        if not body:
            errors.setdefault("body", []).append(_("This field is required."))
        out["body"] = body
    if "language" in data:
        if data["language"] not in LANGUAGES:
            errors.setdefault("language", []).append(_("Choose a valid language."))
        out["language"] = data["language"]
    if data.get("category") not in (None, ""):
        pk = getattr(data["category"], "pk", data["category"])
        category = ServiceCategory.unscoped.filter(company_id=company_id, pk=pk).first() \
            if str(pk).isdigit() else None  # fmt: skip
        if category is None:
            errors.setdefault("category", []).append(_("Choose a valid category."))
        out["category"] = category
    elif "category" in data:
        out["category"] = None
    return out


@audited
def article_create(*, company: Company, actor: User | None, title: str, body: str,
                   language: str = "zh-hans", category: Any = None, publish: bool = False
                   ) -> KnowledgeArticle:  # fmt: skip
    """A new article (a draft unless `publish`). Raises ValidationError."""
    errors: Errors = {}
    fields = _fields(company.pk, {"title": title, "body": body, "language": language,
                                  "category": category}, errors)  # fmt: skip
    if errors:
        raise ValidationError(errors)
    state = KnowledgeArticle.State.PUBLISHED if publish else KnowledgeArticle.State.DRAFT
    return KnowledgeArticle.unscoped.create(company=company, author=actor, state=state, **fields)


@audited
def article_update(*, article: KnowledgeArticle, actor: User | None, **data: Any
                   ) -> KnowledgeArticle:  # fmt: skip
    """Change an article's title, body or category. Raises ValidationError."""
    errors: Errors = {}
    unknown = set(data) - {"title", "body", "category"}
    for name in sorted(unknown):
        errors.setdefault(name, []).append(_("This field cannot be changed."))
    fields = _fields(article.company_id, data, errors)
    if errors:
        raise ValidationError(errors)
    for name, value in fields.items():
        setattr(article, name, value)
    article.save()
    return article


@audited
def article_translate(*, article: KnowledgeArticle, actor: User | None, language: str,
                      title: str, body: str) -> KnowledgeArticle:  # fmt: skip
    """A translation of the article (of its original, when it is a translation itself) into
    `language`, in the original's state. Raises ValidationError (a language it has already)."""
    original = article.translation_of or article
    errors: Errors = {}
    fields = _fields(article.company_id, {"title": title, "body": body, "language": language},
                     errors)  # fmt: skip
    if language == original.language or original.translations.filter(language=language).exists():
        errors.setdefault("language", []).append(_("The article exists in this language already."))
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        return KnowledgeArticle.unscoped.create(
            company_id=original.company_id, translation_of=original, state=original.state,
            category_id=original.category_id, author=actor, **fields,
        )  # fmt: skip


@audited
def article_publish(*, article: KnowledgeArticle, actor: User | None, publish: bool = True
                    ) -> KnowledgeArticle:  # fmt: skip
    """Publish (or archive) the article with its translations."""
    state = KnowledgeArticle.State.PUBLISHED if publish else KnowledgeArticle.State.ARCHIVED
    original = article.translation_of or article
    if publish and article.state == KnowledgeArticle.State.PUBLISHED:
        raise CrmError(_("The article is published already."))
    with transaction.atomic():
        for row in [original, *original.translations.all()]:
            row.state = state
            row.save(update_fields=["state", "updated_at"])
    article.refresh_from_db()
    return article
