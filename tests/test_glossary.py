"""nbs/glossary.ipynb: every term the course relies on is defined, and every link points at an existing notebook and,
after `#`, at the id Quarto gives one of its section headings (pandoc's identifier rule, reproduced in conftest.py)."""
import re
from pathlib import Path

import nbformat
import pytest
from conftest import MD_LINK as _LINK, heading_id

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT/'nbs'
TERMS = ['window', 'overflow', 'stride (`doc_stride`)', 'offset mapping', 'sequence ids', 'CLS label', 'logit', 'QA head',
         'LoRA adapter', 'starter model', 'null score', 'null_score_diff', 'threshold', 'n-best', 'max answer length', 'EM', 'F1',
         'normalization', 'HasAns / NoAns', 'answer-nothing floor', 'forced HasAns F1', 'best threshold', 'recipe',
         'blind threshold', 'attention dropout', 'dynamic padding', 'length-grouped batches', 'checkpoint', 'plausible answer',
         'resume']


def heading_ids(path:Path) -> list:
    "The ids of the markdown headings of a notebook, with pandoc's -1, -2 for repeated ones."
    ids, seen = [], {}
    for c in nbformat.read(path, as_version=4).cells:
        if c.cell_type != 'markdown': continue
        fence = False
        for line in c.source.splitlines():
            if line.lstrip().startswith(('```', '~~~')): fence = not fence
            m = None if fence else re.match(r'#{1,6}\s+(.*?)\s*#*\s*$', line)
            if not m: continue
            h = heading_id(m.group(1))
            ids.append(h if h not in seen else f'{h}-{seen[h]}')
            seen[h] = seen.get(h, 0) + 1
    return ids


def test_heading_id():
    # the examples of pandoc's manual (extension auto_identifiers), and headings of this course
    for text, want in [('Heading identifiers in HTML', 'heading-identifiers-in-html'), ("Maître d'hôtel", 'maître-dhôtel'),
                       ('*Dogs*?--in *my* house?', 'dogs--in-my-house'), ('[HTML], [S5], or [RTF]?', 'html-s5-or-rtf'),
                       ('3. Applications', 'applications'), ('33', 'section'), ('Why windows', 'why-windows'),
                       ("Stage 1: each window's candidates", 'stage-1-each-windows-candidates'),
                       ('`load_squad`: hub, file, folder or sample', 'load_squad-hub-file-folder-or-sample'),
                       ('The grid of start × end scores', 'the-grid-of-start-end-scores')]:
        assert heading_id(text) == want, text
    assert heading_ids(NBS/'01_features.ipynb')[:3] == ['tokenizing-with-overflowing-windows', 'a-tokenizer-offline', 'why-windows']


def _glossary():
    nb = nbformat.read(NBS/'glossary.ipynb', as_version=4)
    return nb, '\n'.join(c.source for c in nb.cells if c.cell_type == 'markdown')


def test_glossary_page():
    nb, md = _glossary()
    assert nb.cells[0].source.startswith('# Glossary\n\n> '), "title cell: `# Glossary` and a `> description`"
    assert not [c for c in nb.cells if c.cell_type == 'code' and re.search(r'#\|\s*default_exp', c.source)]
    terms = re.findall(r'^- \*\*(.+?)\*\*', md, re.M)
    assert sorted(TERMS) == sorted(terms), f"missing: {set(TERMS) - set(terms)}; not expected: {set(terms) - set(TERMS)}"
    for line in re.findall(r'^- \*\*.*$', md, re.M):
        assert _LINK.search(line), f"the definition of {line[:40]!r}... links to no notebook"
    # nbdev turns a `name` it knows into a link to its docs: inside a link's text, that would nest two links
    assert not [t for t, _ in _LINK.findall(md) if '`' in t], "no code (backticks) in the text of a link"


@pytest.mark.parametrize('target', sorted({m[1] for m in _LINK.findall(_glossary()[1])}))
def test_glossary_link(target):
    "Each link of the glossary names an existing notebook of nbs/ and a section id of it."
    nb, _, anchor = target.partition('#')
    assert not re.match(r'^[a-z]+:', nb), f"{target}: link to a notebook of the course, not a URL"
    assert (NBS/nb).is_file(), f"{target}: nbs/{nb} does not exist"
    assert anchor, f"{target}: link to the section that teaches the term"
    assert anchor in heading_ids(NBS/nb), f"{target}: no heading of {nb} gets the id {anchor!r} (it has {heading_ids(NBS/nb)})"
