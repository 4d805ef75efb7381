"""Google Sheets API v4 on this machine: the values a spreadsheet holds, read and written the way
gspread calls them (values get/batchGet/update/append/batchUpdate, spreadsheets get and
batchUpdate's addSheet), behind OAuth tokens from its own token endpoint (a service account's
JWT grant or a refresh token), with the per-minute quota answered 429 as Google does.

With a folder, each spreadsheet is a folder of CSV files, one per tab
(`<folder>/<spreadsheet id>/<tab>.csv`), read on every request and written after every change:
edit a price in the CSV and the next sync reads it."""

from __future__ import annotations

import csv
import io
import re
import secrets
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from scripts.sandbox.http import Reply, SandboxServer

API = "/v4/spreadsheets/"
_A1 = re.compile(r"^(?:(?P<sheet>'(?:[^']|'')+'|[^!]+)!)?(?P<range>[A-Z]*\d*(?::[A-Z]*\d*)?)?$")
_CELL = re.compile(r"^(?P<col>[A-Z]*)(?P<row>\d*)$")


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _column_index(letters: str) -> int:
    index = 0
    for letter in letters:
        index = index * 26 + ord(letter) - 64
    return index - 1


def _error(status: int, message: str, code: str) -> Reply:
    return Reply(status, {"error": {"code": status, "message": message, "status": code}})


class SheetsSandbox(SandboxServer):
    name = "sheets-sandbox"

    def __init__(self, *, folder: Path | None = None, quota_per_minute: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.folder = folder
        self.quota_per_minute = quota_per_minute
        self.spreadsheets: dict[str, dict[str, list[list[str]]]] = {}
        self.tokens: dict[str, float] = {}
        self.token_lifetime = 3600
        self._minute: list[float] = []

    # --- what a test or a person sets up ---------------------------------------------------------

    def sheet_put(self, spreadsheet_id: str, tab: str, rows: list[list[Any]]) -> None:
        with self.lock:
            book = self._book(spreadsheet_id, create=True)
            book[tab] = [["" if v is None else str(v) for v in row] for row in rows]
            self._save(spreadsheet_id)

    def sheet_rows(self, spreadsheet_id: str, tab: str) -> list[list[str]]:
        with self.lock:
            return [list(row) for row in self._book(spreadsheet_id).get(tab, [])]

    def expire_tokens(self) -> None:
        self.tokens.clear()

    # --- the API ---------------------------------------------------------------------------------

    def faulty(self, request: dict[str, Any]) -> bool:
        return request["path"].startswith(API)  # the token endpoint answers; the API fails

    def handle(self, request: dict[str, Any]) -> Reply:
        path = request["path"]
        if path == "/token":
            return self._token(request)
        if not path.startswith(API):
            return _error(404, f"No such endpoint {path}.", "NOT_FOUND")
        token = (request["headers"].get("Authorization") or "").removeprefix("Bearer ")
        if self.tokens.get(token, 0) < time.time():
            return _error(401, "Request had invalid authentication credentials.", "UNAUTHENTICATED")
        if self.quota_per_minute is not None:
            now = time.time()
            self._minute = [t for t in self._minute if t > now - 60] + [now]
            if len(self._minute) > self.quota_per_minute:
                return _error(
                    429,
                    "Quota exceeded for quota metric 'Requests' and limit 'Requests per minute per user'.",
                    "RESOURCE_EXHAUSTED",
                )
        rest = unquote(path[len(API) :])
        spreadsheet_id, _, tail = rest.partition("/")
        spreadsheet_id, _, action = spreadsheet_id.partition(":")
        if self.folder:
            self._load(spreadsheet_id)
        if spreadsheet_id not in self.spreadsheets:
            return _error(404, "Requested entity was not found.", "NOT_FOUND")
        method = request["method"]
        if not tail:
            if method == "GET" and not action:
                return Reply(200, self._metadata(spreadsheet_id))
            if method == "POST" and action == "batchUpdate":
                return self._structure(spreadsheet_id, request["json"] or {})
        elif tail.startswith("values"):
            values_path = tail.removeprefix("values")
            if values_path == ":batchGet" and method == "GET":
                ranges = request["query"].get("ranges", [])
                return Reply(
                    200,
                    {"spreadsheetId": spreadsheet_id, "valueRanges": [self._get(spreadsheet_id, r) for r in ranges]},
                )
            if values_path == ":batchUpdate" and method == "POST":
                return self._batch_update(spreadsheet_id, request["json"] or {})
            a1, _, verb = values_path.removeprefix("/").partition(":")
            if method == "GET" and not verb:
                return self._reply_range(lambda: self._get(spreadsheet_id, a1))
            if method == "PUT" and not verb:
                return self._reply_range(lambda: self._update(spreadsheet_id, a1, (request["json"] or {})["values"]))
            if method == "POST" and verb == "append":
                return self._reply_range(lambda: self._append(spreadsheet_id, a1, (request["json"] or {})["values"]))
        return _error(404, f"No such endpoint {method} {path}.", "NOT_FOUND")

    def _token(self, request: dict[str, Any]) -> Reply:
        grant = request["form"].get("grant_type", "")
        if grant not in ("urn:ietf:params:oauth:grant-type:jwt-bearer", "refresh_token"):
            return Reply(400, {"error": "unsupported_grant_type", "error_description": f"grant_type {grant!r}"})
        token = "sandbox-" + secrets.token_hex(8)
        self.tokens[token] = time.time() + self.token_lifetime
        return Reply(200, {"access_token": token, "expires_in": self.token_lifetime, "token_type": "Bearer"})

    def _reply_range(self, call) -> Reply:
        try:
            return Reply(200, call())
        except KeyError as missing:
            return _error(400, f"Unable to parse range: {missing.args[0]}", "INVALID_ARGUMENT")

    def _metadata(self, spreadsheet_id: str) -> dict[str, Any]:
        book = self.spreadsheets[spreadsheet_id]
        return {
            "spreadsheetId": spreadsheet_id,
            "properties": {"title": spreadsheet_id, "locale": "es_UY", "timeZone": "America/Montevideo"},
            "sheets": [
                {
                    "properties": {
                        "sheetId": index,
                        "title": title,
                        "index": index,
                        "sheetType": "GRID",
                        "gridProperties": {
                            "rowCount": max(1000, len(rows)),
                            "columnCount": max([26] + [len(r) for r in rows]),
                        },
                    }
                }
                for index, (title, rows) in enumerate(book.items())
            ],
        }

    def _structure(self, spreadsheet_id: str, body: dict[str, Any]) -> Reply:
        replies = []
        book = self.spreadsheets[spreadsheet_id]
        for change in body.get("requests", []):
            if "addSheet" not in change:
                return _error(400, f"The sandbox does not do {sorted(change)}.", "INVALID_ARGUMENT")
            title = change["addSheet"].get("properties", {}).get("title") or f"Hoja {len(book) + 1}"
            if title in book:
                return _error(400, f'A sheet with the name "{title}" already exists.', "INVALID_ARGUMENT")
            book[title] = []
            replies.append({"addSheet": {"properties": {"sheetId": len(book) - 1, "title": title}}})
        self._save(spreadsheet_id)
        return Reply(200, {"spreadsheetId": spreadsheet_id, "replies": replies})

    def _where(self, spreadsheet_id: str, a1: str) -> tuple[str, int, int, int | None, int | None]:
        """(tab, first row, first column, last row, last column), 0-based, None for open ends."""
        book = self.spreadsheets[spreadsheet_id]
        if "!" not in a1:
            name = a1[1:-1].replace("''", "'") if a1.startswith("'") else a1
            if name in book:
                return name, 0, 0, None, None
        match = _A1.match(a1)
        if not match:
            raise KeyError(a1)
        sheet = match["sheet"]
        if sheet is None:
            sheet = next(iter(book))
        elif sheet.startswith("'"):
            sheet = sheet[1:-1].replace("''", "'")
        if sheet not in book:
            raise KeyError(a1)
        start, _, end = (match["range"] or "").partition(":")
        first, last = _CELL.match(start), _CELL.match(end or start)
        row0 = int(first["row"]) - 1 if first["row"] else 0
        col0 = _column_index(first["col"]) if first["col"] else 0
        row1 = int(last["row"]) - 1 if last["row"] and match["range"] else None
        col1 = _column_index(last["col"]) if last["col"] else None
        return sheet, row0, col0, row1, col1

    def _get(self, spreadsheet_id: str, a1: str) -> dict[str, Any]:
        sheet, row0, col0, row1, col1 = self._where(spreadsheet_id, a1)
        rows = self.spreadsheets[spreadsheet_id][sheet]
        picked = []
        for row in rows[row0 : None if row1 is None else row1 + 1]:
            cells = row[col0 : None if col1 is None else col1 + 1]
            while cells and cells[-1] == "":
                cells = cells[:-1]
            picked.append(cells)
        while picked and not picked[-1]:
            picked.pop()
        answer: dict[str, Any] = {"range": a1, "majorDimension": "ROWS"}
        if picked:
            answer["values"] = picked
        return answer

    def _write(self, spreadsheet_id: str, sheet: str, row0: int, col0: int, values: list[list[Any]]) -> int:
        rows = self.spreadsheets[spreadsheet_id][sheet]
        for offset, new in enumerate(values):
            while len(rows) <= row0 + offset:
                rows.append([])
            row = rows[row0 + offset]
            for index, value in enumerate(new):
                column = col0 + index
                while len(row) <= column:
                    row.append("")
                row[column] = "" if value is None else str(value)
        return len(values)

    def _update(self, spreadsheet_id: str, a1: str, values: list[list[Any]]) -> dict[str, Any]:
        sheet, row0, col0, _, _ = self._where(spreadsheet_id, a1)
        written = self._write(spreadsheet_id, sheet, row0, col0, values)
        self._save(spreadsheet_id)
        return {"spreadsheetId": spreadsheet_id, "updatedRange": a1, "updatedRows": written}

    def _append(self, spreadsheet_id: str, a1: str, values: list[list[Any]]) -> dict[str, Any]:
        sheet, _, col0, _, _ = self._where(spreadsheet_id, a1)
        rows = self.spreadsheets[spreadsheet_id][sheet]
        used = len(rows)
        while used and not any(rows[used - 1]):
            used -= 1
        self._write(spreadsheet_id, sheet, used, col0, values)
        self._save(spreadsheet_id)
        width = max([1] + [len(v) for v in values])
        updated = f"'{sheet}'!{column_letter(col0)}{used + 1}:{column_letter(col0 + width - 1)}{used + len(values)}"
        return {
            "spreadsheetId": spreadsheet_id,
            "tableRange": f"'{sheet}'!A1:{column_letter(width - 1)}{used}",
            "updates": {"spreadsheetId": spreadsheet_id, "updatedRange": updated, "updatedRows": len(values)},
        }

    def _batch_update(self, spreadsheet_id: str, body: dict[str, Any]) -> Reply:
        try:
            targets = [(self._where(spreadsheet_id, part["range"]), part["values"]) for part in body.get("data", [])]
        except KeyError as missing:
            return _error(400, f"Unable to parse range: {missing.args[0]}", "INVALID_ARGUMENT")
        rows = 0
        for (sheet, row0, col0, _, _), values in targets:
            rows += self._write(spreadsheet_id, sheet, row0, col0, values)
        self._save(spreadsheet_id)
        return Reply(200, {"spreadsheetId": spreadsheet_id, "totalUpdatedRows": rows, "responses": []})

    # --- the folder of CSV files -----------------------------------------------------------------

    def _book(self, spreadsheet_id: str, *, create: bool = False) -> dict[str, list[list[str]]]:
        if self.folder:
            self._load(spreadsheet_id)
        if create:
            self.spreadsheets.setdefault(spreadsheet_id, {})
        return self.spreadsheets.get(spreadsheet_id, {})

    def _load(self, spreadsheet_id: str) -> None:
        folder = self.folder / spreadsheet_id
        if folder.is_dir():
            self.spreadsheets[spreadsheet_id] = {
                path.stem: [list(row) for row in csv.reader(io.StringIO(path.read_text(encoding="utf-8")))]
                for path in sorted(folder.glob("*.csv"))
            }

    def _save(self, spreadsheet_id: str) -> None:
        if not self.folder:
            return
        folder = self.folder / spreadsheet_id
        folder.mkdir(parents=True, exist_ok=True)
        for tab, rows in self.spreadsheets[spreadsheet_id].items():
            out = io.StringIO()
            csv.writer(out, lineterminator="\n").writerows(rows)
            (folder / f"{tab}.csv").write_text(out.getvalue(), encoding="utf-8")
