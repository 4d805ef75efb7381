"""Places: every barrio, town and beach people name, mapped to a delivery zone."""

from __future__ import annotations

import re

from agents.nlu.text import text_mask


def _names_split(*, text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


# Comma-separated so multi-word places read naturally; every name is already normalised.
_PLACES: dict[str, tuple[str, ...]] = {
    "MONTEVIDEO": _names_split(
        text="montevideo, montevido, mvd, mdeo, mtdeo, pocitos, carrasco, punta carretas, malvin, malvin norte, "
        "buceo, punta gorda, el prado, prado, el cerro, cerro norte, la teja, sayago, colon, penarol, "
        "maronas, flor de maronas, piedras blancas, casavalle, cordon, tres cruces, parque batlle, "
        "la blanqueada, ciudad vieja, palermo, parque rodo, aguada, jacinto vera, brazo oriental, belvedere, "
        "paso molino, nuevo paris, la comercial, villa espanola, villa dolores, villa munoz, "
        "punta de rieles, capurro, reducto, la figurita, paso de la arena, casabo, santiago vazquez, "
        "melilla, lezica, manga, barrio sur, larranaga, atahualpa"
    ),
    "CANELONES": _names_split(
        text="canelones, ciudad de la costa, pando, las piedras, la paz, atlantida, solymar, lomas de solymar, "
        "lagomar, el pinar, shangrila, san jose de carrasco, paso carrasco, barros blancos, "
        "colonia nicolich, toledo, joaquin suarez, sauce, santa lucia, tala, san ramon, san jacinto, migues, "
        "soca, empalme olmos, los cerrillos, aguas corrientes, juanico, san bautista, santa rosa, salinas, "
        "marindia, pinamar, neptunia, parque del plata, la floresta, costa azul, jaureguiberry, "
        "cuchilla alta, costa de oro, parque miramar, las toscas, bello horizonte, guazuvira, araminda, "
        "biarritz, villa argentina, medanos de solymar"
    ),
    "MALDONADO": _names_split(
        text="maldonado, punta del este, piriapolis, san carlos, la barra, jose ignacio, pan de azucar, aigua, "
        "manantiales, punta ballena, solanas, portezuelo, ocean park, el tesoro, la juanita, punta colorada, "
        "punta negra, playa verde, playa hermosa, playa grande, las flores, bella vista, "
        "balneario buenos aires, garzon, pueblo garzon, gregorio aznarez, la capuera, maldonado nuevo"
    ),
    "INTERIOR": _names_split(
        text="artigas, bella union, tomas gomensoro, cerro largo, melo, rio branco, fraile muerto, colonia, "
        "colonia del sacramento, carmelo, nueva helvecia, juan lacaze, rosario, nueva palmira, tarariras, "
        "ombues de lavalle, durazno, sarandi del yi, flores, trinidad, florida, sarandi grande, casupa, "
        "fray marcos, lavalleja, minas, jose pedro varela, solis de mataojo, mariscala, paysandu, guichon, "
        "quebracho, rio negro, fray bentos, young, nuevo berlin, san javier, rivera, tranqueras, vichadero, "
        "minas de corrales, rocha, chuy, castillos, lascano, la paloma, la pedrera, punta del diablo, "
        "aguas dulces, cabo polonio, barra de valizas, la coronilla, salto, dayman, termas del dayman, "
        "arapey, san jose, san jose de mayo, libertad, ciudad del plata, ecilda paullier, rafael perazza, "
        "soriano, mercedes, dolores, cardona, tacuarembo, paso de los toros, san gregorio de polanco, "
        "ansina, treinta y tres, vergara, santa clara de olimar, cerro chato, al interior, para el interior, "
        "interior del pais, del interior"
    ),
}
PLACE_ZONE = {place: zone for zone, places in _PLACES.items() for place in places}
# Longest first, so "paso carrasco" wins over "carrasco" and "cerro largo" over "el cerro".
_PLACE_RE = re.compile(
    r"\b(" + "|".join(re.escape(p) for p in sorted(PLACE_ZONE, key=len, reverse=True)) + r")\b",
)
_DESTINATION_BEFORE_RE = re.compile(
    r"(?:flete|envio|mandar\w*|mandalo\w*|mandan|enviar\w*|envialo\w*|entrega\w*|llevar\w*|obra)"
    r"\s+(?:a|al|en|hasta|para)\s+(?:la\s+|el\s+)?$"
)


def zone_find(*, text: str) -> tuple[str | None, str]:
    matches = list(_PLACE_RE.finditer(text))
    if not matches:
        return None, text
    chosen = matches[-1]
    for match in matches:
        if _DESTINATION_BEFORE_RE.search(text[max(0, match.start() - 30) : match.start()]):
            chosen = match
    masked = text
    for match in matches:
        masked = text_mask(text=masked, start=match.start(), end=match.end())
    return PLACE_ZONE[chosen.group(1)], masked
