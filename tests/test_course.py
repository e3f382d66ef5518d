"The course as a learner meets it: first-reading marks that lead somewhere, and saved outputs that name no machine's paths."
import re
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT, heading_id

NBS = sorted((ROOT/'nbs').glob('*.ipynb'))
PRACTICE = sorted((ROOT/'practice').glob('*.ipynb'))
MARK = re.compile(r'(?:#{1,6} [^\n]+\n+)?> \*\*First reading: skip this section\.\*\* It is about (?P<about>[^\n]+?), not (?P<not_>[^\n]+?); '
                  r'the course goes on at \[(?P<title>[^\]\n]+)\]\(#(?P<anchor>[a-z0-9_.-]+)\)\.(\n|$)')
_HEADING = re.compile(r'^#{1,6} +(.+?)\s*$')


def read(p): return nbformat.read(p, as_version=4)


def headings(nb) -> dict:
    "anchor -> heading text of every markdown heading of `nb` (outside code fences)."
    out = {}
    for c in nb.cells:
        if c.cell_type != 'markdown': continue
        fence = False
        for line in c.source.splitlines():
            if line.lstrip().startswith(('```', '~~~')): fence = not fence; continue
            m = None if fence else _HEADING.match(line)
            if m: out[heading_id(m.group(1))] = m.group(1)
    return out


def test_anchor():
    test = [("Faster: tokenize each context once", 'faster-tokenize-each-context-once'), ('`main`', 'main'),
            ("Stage 1: each window's candidates", 'stage-1-each-windows-candidates'), ('Several processes, several machines', 'several-processes-several-machines')]
    assert [heading_id(h) for h, _ in test] == [a for _, a in test]


def marks(nb) -> list:
    "(cell index, source) of the markdown cells that speak of a first reading."
    return [(i, c.source) for i, c in enumerate(nb.cells) if c.cell_type == 'markdown' and 'first reading' in c.source.lower()]


@pytest.mark.parametrize('path', NBS, ids=[p.stem for p in NBS])
def test_first_reading_marks(path):
    "A cell that mentions a first reading opens with the mark (under its section heading when the cell holds one), and the mark links to a heading of the same notebook."
    nb = read(path)
    heads = headings(nb)
    for i, src in marks(nb):
        m = MARK.match(src)
        assert m, f"{path.name}, cell {i}: a cell that mentions a first reading must start with the mark (after the section heading, if the cell holds it) '> **First reading: skip this section.** " \
                  f"It is about ..., not ...; the course goes on at [<next section>](#<its-anchor>).', not {src[:120]!r}"
        assert m['anchor'] in heads, f"{path.name}, cell {i}: the mark links to #{m['anchor']}, which is no heading of this notebook ({sorted(heads)})"


def test_first_reading_marks_in_the_course():
    "The tokenization and post-processing notebooks, which have long engineering sections, carry the mark."
    for name in ('01_features', '02_postprocess'):
        assert [s for _, s in marks(read(ROOT/'nbs'/f'{name}.ipynb')) if MARK.match(s)], f"{name} has no first-reading mark"


MACHINE_PATH = re.compile(r'(?<![\w.])(/work/|/tmp/|/home/|/Users/|/root/|/private/var/)|(?<![\w\\])[A-Z]:\\{1,2}(Users|Windows|Program|Temp|AppData)|site-packages')


def output_texts(cell):
    "Every text a saved output of `cell` holds: streams, results and errors in every format."
    for o in cell.get('outputs', []):
        if 'text' in o: yield o['text'] if isinstance(o['text'], str) else ''.join(o['text'])
        for v in o.get('data', {}).values(): yield v if isinstance(v, str) else str(v)
        if 'traceback' in o: yield '\n'.join(o['traceback'])


@pytest.mark.parametrize('path', NBS + PRACTICE, ids=[f'{p.parent.name}/{p.stem}' for p in NBS + PRACTICE])
def test_no_machine_paths_in_outputs(path):
    "No saved output names a folder of the machine that ran it: the docs are read on other machines."
    bad = []
    for i, c in enumerate(read(path).cells):
        for text in output_texts(c):
            m = MACHINE_PATH.search(text)
            if m: bad.append(f"cell {i} (id {c.get('id')}): ...{text[max(0, m.start()-60):m.end()+60]!r}...")
    assert not bad, f"{path.parent.name}/{path.name} has machine paths in its outputs:\n" + '\n'.join(bad)


def test_mark_pattern():
    good = ('> **First reading: skip this section.** It is about speed, not answers; the course goes on at [Labels](#labels).\n\nMore.')
    assert MARK.match(good)['anchor'] == 'labels' and MARK.match('## Speed\n\n' + good)
    assert not MARK.match('> **First reading: skip this.** It is about speed; the course goes on at [Labels](#labels).')
    assert not MARK.match('Some text.\n\n' + good)
