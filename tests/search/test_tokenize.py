"""search.tokenize is FTS5 unicode61's tokenisation: the PostgreSQL index counts the
terms and lengths FTS5 counts, so both rank keyword matches alike."""

from __future__ import annotations

import json
import sqlite3

from callscribe.search.tokenize import query_terms, tokenize
from tests.search.corpus import ABCD, QMSUM

SAMPLES = [
    "Crème brûlée, S'IL VOUS PLAÎT! naïve café",
    "order #3348917502 (977) 625-2661 cminh730@email.com",
    "ÄÖÜ straße Ελληνικά русский 中文字符 ١٢٣",
    "under_score hyphen-ated it's 3.14 $100 50% e-mail",
    "emoji 👍 tab\tnew\nline",
]


def fts5_tokens(texts: list[str]) -> list[list[str]]:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(x, tokenize = 'unicode61')")
    db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance')")
    db.executemany("INSERT INTO t (rowid, x) VALUES (?, ?)", list(enumerate(texts, start=1)))
    out: list[list[str]] = [[] for _ in texts]
    for term, doc, _col, _off in db.execute(
        "SELECT term, doc, col, offset FROM v ORDER BY doc, offset"
    ):
        out[doc - 1].append(term)
    return out


def test_tokens_are_fts5_unicode61s_on_real_transcripts_and_other_scripts() -> None:
    texts = list(SAMPLES)
    for chat in json.loads(ABCD.read_text()):
        texts += [t for _r, t in chat["original"]]
    texts += [t["content"] for t in json.loads(QMSUM.read_text())["meeting_transcripts"]]
    expected = fts5_tokens(texts)
    assert [tokenize(t) for t in texts] == expected


def test_a_query_drops_stop_words_unless_it_has_nothing_else() -> None:
    assert query_terms("What did the group decide about the remote?") == [
        "group",
        "decide",
        "remote",
    ]
    assert query_terms("what is it") == ["what", "is", "it"]
    assert query_terms("refund refund Refund") == ["refund"]


def test_maxscore_skips_only_terms_whose_bounds_stay_below_theta() -> None:
    from callscribe.search.index.base import BM25_K1, essential_terms, probe_terms

    idf = {"the": 0.01, "remote": 2.0, "mk": 6.0, "buttons": 3.0}
    # "the" and "remote" can add at most (0.01 + 2.0) x 2.2 = 4.422 together
    assert essential_terms(idf, 4.43) == ["mk", "buttons"]
    assert essential_terms(idf, (0.01 + 2.0) * (BM25_K1 + 1)) == ["remote", "mk", "buttons"]
    assert essential_terms(idf, 0.0) == list(idf)
    assert probe_terms({"a": 900, "b": 10, "c": 300}, 400) == ["b", "c"]
    assert probe_terms({"a": 900, "b": 1000}, 400) == ["a"]  # the rarest one at least
