"""Long documents cost in proportion to their length: a 1 MB document (with the shapes that
were quadratic: amounts in one endless sentence, a page per fact lookup) completes.

No timed assertion: the analysis runs in a child process whose generous timeout only guards
against a hang (the quadratic version took 95 s for 400 KB; this takes seconds).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np

from deepseek_apps.apps.contracts.clauses.decode import decode_spans, sentence_ends
from deepseek_apps.apps.contracts.reading.pages import assemble

_CHILD = textwrap.dedent(
    """
    from deepseek_apps.apps.contracts.app import ContractParser
    from deepseek_apps.apps.contracts.synthetic import generate_contracts

    contracts = "\\n\\n".join(c.text for c in generate_contracts(3, seed=1))
    no_stop = "Licensee shall pay Licensor $5,000 and EUR 1.250,00 within thirty (30) days and "
    text = (contracts * (500_000 // len(contracts) + 1))[:500_000] + (no_stop * 6500)[:500_000]
    result = ContractParser(clauses=False).analyze(text.encode(), filename="long.txt")
    print(len(text), len(result.facts), sum(r.kind == "pays" for r in result.relations))
    """
)


def test_one_megabyte_document_completes():
    done = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True, timeout=240, check=True)
    characters, facts, _ = map(int, done.stdout.split())
    assert characters == 1_000_000
    assert facts > 15_000  # every amount and duration of the endless sentence is still found


def test_page_lookup_is_built_once():
    pages = [(f"Page {i} text.", "text") for i in range(2000)]
    doc = assemble(pages, kind="pdf")
    assert [doc.page_at(p.start) for p in doc.pages[::500]] == [1, 501, 1001, 1501]
    assert len(doc.__dict__["_starts"]) == 2000


def test_span_decoding_is_linear_in_words():
    """Decoding a million words touches each word a bounded number of times (numpy runs)."""
    rng = np.random.default_rng(0)
    words = ["Word", "ends."] * 500_000
    probs = rng.random((len(words), 3)).astype(np.float32)
    ends = sentence_ends(words)
    assert ends.sum() == 499_999
    spans = decode_spans(probs, ends=ends)
    assert all(b - a <= 2 for category in spans for a, b, _ in category)  # cut at every sentence end
