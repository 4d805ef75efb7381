"""Rebuild agents/nlu/places.csv, the gazetteer of Uruguay the reader maps places to freight zones with.

    .venv/bin/python scripts/gazetteer_build.py

Two kinds of rows, told apart by their `source` column:
- `curated`: names written by hand (departments, cities, Montevideo's barrios, beaches, the names
  people use for an area such as "la costa", abbreviations such as "pde" or "mvd"). They are kept
  as they are, and they are read wherever they appear in a message.
- `correo`: every locality of docs/domain/sources/correo_localidades.csv (Correo Uruguayo's list of
  localities by department, with their postal codes), rebuilt on each run. Many are small rural
  places whose names are also common words ("Blanco", "Manga", "Arenal"), so they are read only
  where a message names a place ("flete a ...", "estoy en ...", "obra en ..."), never anywhere.
A name found in departments of different freight zones is left out unless a curated row settles
it (Las Piedras is a city of Canelones and a village of Artigas): the reader then asks.
"""

from __future__ import annotations

import csv
import re
import sys
import unicodedata
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "docs" / "domain" / "sources" / "correo_localidades.csv"
TARGET = ROOT / "agents" / "nlu" / "places.csv"
FIELDS = ("name", "zone", "department", "kind", "anywhere", "source")

DEPARTMENTS = {
    "ARTIGAS": "Artigas",
    "CANELONES": "Canelones",
    "CERRO LARGO": "Cerro Largo",
    "COLONIA": "Colonia",
    "DURAZNO": "Durazno",
    "FLORES": "Flores",
    "FLORIDA": "Florida",
    "LAVALLEJA": "Lavalleja",
    "MALDONADO": "Maldonado",
    "MONTEVIDEO": "Montevideo",
    "PAYSANDU": "Paysandú",
    "RIO NEGRO": "Río Negro",
    "RIVERA": "Rivera",
    "ROCHA": "Rocha",
    "SALTO": "Salto",
    "SAN JOSE": "San José",
    "SORIANO": "Soriano",
    "TACUAREMBO": "Tacuarembó",
    "TREINTA Y TRES": "Treinta y Tres",
}
# Freight zones are Montevideo, Canelones and Maldonado; every other department is the interior.
OWN_ZONES = {"MONTEVIDEO", "CANELONES", "MALDONADO"}
# Words that name no place on their own, whatever the postal list says.
NOT_PLACES = {"blanco", "gris", "rojo", "verde", "centro", "techo", "camara", "pared", "obra", "barraca"}


def name_normalize(name: str) -> str:
    """As the reader normalises a message: lower case, no accents, single spaces."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return re.sub(r"\s+", " ", re.sub(r"[^a-z0-9 ]", " ", plain)).strip()


def correo_names(locality: str) -> list[str]:
    """'CAPURRO, BELLA VISTA' -> ['capurro', 'bella vista']; abbreviated or numbered entries
    ('FRACC. CNO. ANDALUZ Y R.84', 'B.H.U.') are no name a customer writes, and are left out."""
    names = []
    for part in locality.split(","):
        if "." in part or re.search(r"\d", part):
            continue
        name = name_normalize(part)
        if len(name) >= 4 and name not in NOT_PLACES:
            names.append(name)
    return names


def main() -> int:
    with TARGET.open(encoding="utf-8") as handle:
        curated = [row for row in csv.DictReader(handle) if row["source"] == "curated"]
    settled = {row["name"] for row in curated}
    found: dict[str, set[str]] = defaultdict(set)
    with SOURCE.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["department"] not in DEPARTMENTS:  # "LIMITE CONTESTADO": no department
                continue
            for name in correo_names(row["locality"]):
                found[name].add(row["department"])
    rows = list(curated)
    for name in sorted(set(found) - settled):
        departments = found[name]
        zones = {d if d in OWN_ZONES else "INTERIOR" for d in departments}
        if len(zones) > 1:
            continue  # ambiguous between zones: the reader asks
        department = DEPARTMENTS[next(iter(departments))] if len(departments) == 1 else ""
        kind = "barrio" if departments == {"MONTEVIDEO"} else "locality"
        rows.append(
            {
                "name": name,
                "zone": zones.pop(),
                "department": department,
                "kind": kind,
                "anywhere": "0",
                "source": "correo",
            }
        )
    with TARGET.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"{len(rows)} places ({len(curated)} curated) written to {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
