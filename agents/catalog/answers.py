"""Product questions answered from the current catalog and the stock: which panel for a use, the
colors and thicknesses a family comes in, whether a product is in stock. What the message asks is
read from its words (the NLU gives the family, thickness and use); a product the NLU did not name
is looked for by a fuzzy search over the catalog's names (rapidfuzz). A question none of these
answers (a comparison, a technical sheet, a warranty) goes to a person, as before."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import F, Sum
from django.template.loader import render_to_string
from rapidfuzz import fuzz

from agents.quotes.pricing import CatalogSnapshot, catalog_snapshot
from agents.text import plain
from bmc.core.models import Tenant
from bmc.inventory.models import StockLevel

# What a question asks, by its words (plain text: no accents, lowercase).
ASKS = (
    ("stock", re.compile(r"\b(stock|disponib\w*|en existencia)\b")),
    ("colors", re.compile(r"\bcolor(?:es)?\b")),
    ("thicknesses", re.compile(r"\b(espesor(?:es)?|grosor(?:es)?|grueso|milimetros|medidas? de panel)\b")),
    ("use", re.compile(r"\b(sirve|recomend\w*|conviene|que panel|cual panel|que me sirve|para (?:un|una|el|la) )")),
)
USE_NAMES = {"roof": "techos", "wall": "paredes y cerramientos", "cold_room": "cámaras de frío"}
# A word this far from a family's name (rapidfuzz's ratio, 0-100) is not that family.
SEARCH_CUTOFF = 75


@dataclass(frozen=True)
class Match:
    family: str
    name: str
    sku: str | None  # the panel, when a thickness it comes in was named too
    score: float


def product_search(*, tenant: Tenant, query: str, limit: int = 5) -> list[Match]:
    """The catalog's panels closest to `query` ("isoruf 50", "isofrij", "isodek pir"), best first:
    each word of the query against each family's name (rapidfuzz's ratio, typos and all); the
    family's other words ("pir", "eps") and a thickness it comes in settle ties."""
    catalog = catalog_snapshot(tenant=tenant)
    words = re.findall(r"[a-z0-9]+", plain(query))
    found = []
    for family in catalog.families():
        name = _family_name(catalog, family)
        head, *rest = plain(name).split()
        best = max((fuzz.ratio(word, head) for word in words if len(word) >= 4), default=0)
        if best < SEARCH_CUTOFF:
            continue
        mm = next((int(w) for w in words if w.isdigit() and int(w) in catalog.thicknesses(family)), None)
        score = best + 5 * sum(part in words for part in rest) + (5 if mm else 0)
        found.append(Match(family=family, name=name, sku=f"{family}_{mm}" if mm else None, score=float(score)))
    return sorted(found, key=lambda m: (-m.score, m.family))[:limit]


def _family_name(catalog: CatalogSnapshot, family: str) -> str:
    """'Isodec EPS 100 mm' -> 'Isodec EPS'."""
    item = next(i for i in catalog.items.values() if i.family == family)
    return re.sub(r"\s+\d+\s*mm$", "", item.name)


def _mm(values: list[int]) -> str:
    words = [str(v) for v in values]
    if not words:
        return "los espesores que te confirmamos al cotizar"
    return f"{', '.join(words[:-1])} y {words[-1]} mm" if len(words) > 1 else f"{words[0]} mm"


def _available(*, tenant: Tenant, sku: str) -> Decimal | None:
    """What is available of `sku` across warehouses; None when it is not kept in stock."""
    levels = StockLevel.objects.filter(tenant=tenant, sku=sku, warehouse__active=True)
    if not levels.exists():
        return None
    return levels.aggregate(total=Sum(F("on_hand") - F("reserved")))["total"] or Decimal(0)


def catalog_answer(*, tenant: Tenant, text: str, entities: dict[str, Any]) -> dict[str, Any] | None:
    """The answer to a product question ({asks, text, family...}), or None when the catalog and
    the stock cannot answer it (a person does)."""
    said = plain(text)
    asks = [kind for kind, pattern in ASKS if pattern.search(said)]
    catalog = catalog_snapshot(tenant=tenant)
    family = entities.get("family")
    if family not in catalog.families():
        found = product_search(tenant=tenant, query=said)
        family = found[0].family if found else None
    thickness = entities.get("thickness_mm")
    if thickness is None and family:
        named = next((m for m in product_search(tenant=tenant, query=said) if m.family == family and m.sku), None)
        thickness = int(named.sku.rsplit("_", 1)[1]) if named else None
    if "use" in asks and entities.get("use") not in USE_NAMES:
        return None  # a recommendation for a job the catalog knows nothing of: a person's call
    if "stock" in asks and family:
        return _stock(tenant=tenant, catalog=catalog, family=family, thickness=thickness)
    if "colors" in asks:
        return _colors(catalog=catalog, family=family)
    if "thicknesses" in asks:
        return _thicknesses(catalog=catalog, family=family)
    if entities.get("use") in USE_NAMES and ("use" in asks or not asks):
        return _for_use(catalog=catalog, use=entities["use"])
    return None


def _render(template: str, asks: str, **context: Any) -> dict[str, Any]:
    text = render_to_string(f"catalog/{template}.txt", context).removesuffix("\n")
    return {"asks": asks, "text": text, **{k: v for k, v in context.items() if isinstance(v, str | int | None)}}


def _colors(*, catalog: CatalogSnapshot, family: str | None) -> dict[str, Any]:
    families = [family] if family else catalog.families()
    rows = []
    for name in families:
        colors = next(i.colors for i in catalog.items.values() if i.family == name) or ("el color que elijas",)
        rows.append(
            (_family_name(catalog, name), ", ".join(colors[:-1]) + f" y {colors[-1]}" if len(colors) > 1 else colors[0])
        )
    return _render("colors", "colors", rows=rows, family=family)


def _thicknesses(*, catalog: CatalogSnapshot, family: str | None) -> dict[str, Any]:
    families = [family] if family else catalog.families()
    rows = [(_family_name(catalog, name), _mm(catalog.thicknesses(name))) for name in families]
    return _render("thicknesses", "thicknesses", rows=rows, family=family)


def _for_use(*, catalog: CatalogSnapshot, use: str) -> dict[str, Any]:
    families = sorted({i.family for i in catalog.items.values() if i.kind == "panel" and i.use == use})
    rows = [(_family_name(catalog, name), _mm(catalog.thicknesses(name))) for name in families]
    return _render("for_use", "use", rows=rows, use=USE_NAMES[use], cold_room=use == "cold_room")


def _stock(*, tenant: Tenant, catalog: CatalogSnapshot, family: str, thickness: int | None) -> dict[str, Any]:
    thicknesses = [thickness] if thickness in catalog.thicknesses(family) else catalog.thicknesses(family)
    rows = []
    for mm in thicknesses:
        sku = f"{family}_{mm}"
        available = _available(tenant=tenant, sku=sku)
        rows.append((f"{_family_name(catalog, family)} {mm} mm", "made" if available is None else available > 0))
    return _render("stock", "stock", rows=rows, family=family, one=len(rows) == 1)
