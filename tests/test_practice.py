"""Learner aids: the practice copies (tools/make_practice.py), the Colab/Binder/Studio Lab badges (tools/badges.py)
and binder/requirements.txt.

practice/ must be what the notebooks give; every practice copy must fail at the checks of its exercise functions
while they are not written, and pass them with the package's own bodies. The copies are run cell by cell in an
execnb shell, as nbdev_test runs notebooks: when a cell fails because of an exercise (its NotImplementedError, or
an assertion while only that exercise is unwritten), the package's body of that function is put in its place and
the cell runs again, which must then pass. The notebooks that fine-tune models (ids ending in `-slow`, deselect
them with `-k "not slow"`) run up to the end of the section where their last exercise is checked; the others run
to their end.
"""
import ast, configparser, re, sys, time, traceback
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT/'tools'))
import make_practice as mp  # noqa: E402
import badges  # noqa: E402

NAMES = [p.stem for p in mp.course_notebooks()]
SLOW = {'08_train'}  # fine-tunes tiny models for half a minute or more
_SKIP = re.compile(r'^\s*#\|\s*(eval:\s*false|slow|notest)\s*$', re.M | re.I)  # what nbdev_test skips here
_EXPORT_DIRECTIVE = re.compile(r'^\s*#\|\s*(export[si]?|default_exp)\b', re.M)
_param = [pytest.param(n, id=f'{n}-slow' if n in SLOW else n) for n in NAMES]


def test_practice_is_up_to_date(tmp_path):
    "practice/ holds exactly what `make practice` writes now (outputs and line endings aside), and its .notest."
    mp.write_practice(tmp_path)
    for p in mp.course_notebooks():
        committed = mp.PRACTICE/p.name
        assert committed.exists(), f"practice/{p.name} is missing: run `make practice`"
        assert mp.normalised(committed.read_text(encoding='utf-8')) == mp.normalised((tmp_path/p.name).read_text(encoding='utf-8')), \
            f"practice/{p.name} is stale (or edited by hand): run `make practice`"
    assert (mp.PRACTICE/'.notest').exists()
    assert mp.stale() == []


def test_exporting_notebooks_have_exercises():
    "Every course notebook that exports has 2 to 4 exercise functions, each defined in an export cell."
    for p in mp.course_notebooks():
        cells = nbformat.read(p, as_version=4).cells
        if any(c.cell_type == 'code' and mp._DEFAULT_EXP.search(c.source) for c in cells):
            assert 2 <= len(mp.EXERCISES.get(p.stem, {})) <= 4, f"{p.name}: list 2 to 4 exercise functions in EXERCISES"
    assert set(mp.EXERCISES) <= set(NAMES), f"EXERCISES names notebooks that do not exist: {set(mp.EXERCISES) - set(NAMES)}"


def _heading_only(src): return all(re.match(r'#{1,6} ', l) for l in src.splitlines())


@pytest.mark.parametrize('name', NAMES)
def test_practice_copy(name):
    "A practice copy: no export, headings only before the Questions and Exercises (kept whole), the same code, stubs in place."
    orig = nbformat.read(mp.NBS/f'{name}.ipynb', as_version=4)
    prac, solved = mp.practice_notebook(mp.NBS/f'{name}.ipynb'), mp.practice_notebook(mp.NBS/f'{name}.ipynb', solved=True)
    intro = prac.cells[0].source
    assert intro.startswith('# Practice: ') and 'make practice' in intro and f'../nbs/{name}.ipynb' in intro
    code = [c.source for c in prac.cells if c.cell_type == 'code']
    assert not [s for s in code if _EXPORT_DIRECTIVE.search(s) or 'nbdev_export(' in s]
    # the same code as the course notebook, the export markers aside
    want = ['\n'.join(l for l in c.source.splitlines() if not mp._EXPORT.match(l)) for c in orig.cells
            if c.cell_type == 'code' and not mp._DEFAULT_EXP.search(c.source) and 'nbdev_export(' not in c.source]
    assert [c.source for c in solved.cells if c.cell_type == 'code'] == want
    md = [c.source for c in prac.cells[1:] if c.cell_type == 'markdown']
    qe = next((i for i, s in enumerate(md) if mp._QE.search(s)), len(md))
    assert all(_heading_only(s) for s in md[:qe]), "prose left before the Questions"
    orig_md = [c.source for c in orig.cells if c.cell_type == 'markdown']
    assert md[qe:] == orig_md[len(orig_md) - len(md) + qe:], "the Questions and Exercises must be kept whole"
    # practice and solved differ only in the bodies of the exercise functions, which keep signature and docstring
    hints, seen = mp.EXERCISES.get(name, {}), set()
    for p, s in zip(prac.cells, solved.cells):
        if p.source == s.source: continue
        pt, st = ast.parse(p.source), ast.parse(s.source)
        pf = {n.name: n for n in pt.body if isinstance(n, ast.FunctionDef)}
        sf = {n.name: n for n in st.body if isinstance(n, ast.FunctionDef)}
        for f in set(hints) & set(sf):
            seen.add(f)
            assert ast.dump(pf[f].args) == ast.dump(sf[f].args) and ast.get_docstring(pf[f]) == ast.get_docstring(sf[f])
            assert [ast.dump(b) for b in pf[f].body[1:]] == [ast.dump(ast.parse(f'raise NotImplementedError("{mp.stub_message(hints[f])}")').body[0])]
            pf[f].body = sf[f].body = []
        assert ast.dump(pt) == ast.dump(st), "a practice cell differs from the course cell beyond its exercise functions"
    assert seen == set(hints)


def test_stub_function():
    src = 'import x\n\n@dec\ndef f(a, # the a\n      b=1):\n    "Doc."\n    y = a + b\n    return y\n\ndef g(): pass\n'
    test = mp.stub_function(src, 'f', 'add them')
    assert test == 'import x\n\n@dec\ndef f(a, # the a\n      b=1):\n    "Doc."\n    raise NotImplementedError("Exercise: add them")\n\ndef g(): pass\n'
    assert mp.function_source(src, 'f') == '@dec\ndef f(a, # the a\n      b=1):\n    "Doc."\n    y = a + b\n    return y\n'
    with pytest.raises(ValueError, match='no docstring'): mp.stub_function('def f():\n    return 1\n', 'f', 'h')
    with pytest.raises(ValueError, match='no top-level function'): mp.stub_function(src, 'h', 'h')
    with pytest.raises(ValueError, match='double quote'): mp.stub_function(src, 'f', 'say "x"')


def test_package_imports_refused():
    "A notebook that imports its exercise function from squad_nb cannot get a practice copy (later cells would skip the learner's)."
    cells = [nbformat.v4.new_code_cell('from squad_nb.features import window_spans, answer_tokens')]
    with pytest.raises(ValueError, match="uses the package's window_spans"): mp._check_imports(cells, '01_features', {'window_spans': 'h'})
    mp._check_imports(cells, '01_features', {'pair_template': 'h'})


def _exercise_functions(name) -> dict:
    "{function: its ast.FunctionDef} of the exercise functions of nbs/<name>.ipynb, read from its export cells."
    out = {}
    for c in nbformat.read(mp.NBS/f'{name}.ipynb', as_version=4).cells:
        if c.cell_type != 'code' or not any(mp._EXPORT.match(l) for l in c.source.splitlines()): continue
        tree = ast.parse('\n'.join(l for l in c.source.splitlines() if not mp._EXPORT.match(l)))
        out.update({n.name: n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in mp.EXERCISES[name]})
    return out


@pytest.mark.parametrize('name', sorted(mp.EXERCISES))
def test_hints_agree_with_their_functions(name):
    "No hint says a function prints, deletes files, returns a value or raises when its body or docstring says otherwise."
    fns = _exercise_functions(name)
    assert sorted(fns) == sorted(mp.EXERCISES[name])
    problems = [p for f, h in mp.EXERCISES[name].items() for p in mp.hint_problems(fns[f], h)]
    assert not problems, problems


def _fn(src): return ast.parse(src).body[0]

# two hints this project once shipped, each contradicting its function
OLD_PREPARE = ("resume: the folder given, else the last of `complete_checkpoints(out/'checkpoints')` (error if none); refuse a "
               "folder with config.json ('already holds a model') or checkpoints unless overwrite, which deletes it")
OLD_MAIN = ("parse `argv`, run `cmd_<command>`; on `_USER_ERRORS` print 'squad_nb <command>: error: <e>' to stderr and "
            "sys.exit(1); print the result as JSON on rank 0 and return it")


def test_hint_checker_catches_the_old_hints():
    "The real `_prepare_output` (removing nothing) and `main` (returning nothing) against the hints they once had."
    prepare, main = _exercise_functions('08_train')['_prepare_output'], _exercise_functions('11_cli')['main']
    bad = mp.hint_problems(prepare, OLD_PREPARE)
    assert len(bad) == 2 and 'deletes files, but its body has no rmtree' in bad[0] and 'its docstring says it does not' in bad[1], bad
    assert mp.hint_problems(main, OLD_MAIN) == ['main: the hint says it returns a value, but its body has no return with a value']
    with pytest.raises(ValueError, match='the hint of _prepare_output does not agree with it'):
        mp.practice_notebook(mp.NBS/'08_train.ipynb', exercises={'_prepare_output': OLD_PREPARE})


def test_hint_checker_on_planted_hints():
    "Planted bad hints on hand-made functions are caught, and the same functions pass with hints that agree."
    quiet = _fn('def report(res, out):\n    "Write `res` as JSON into the folder `out`."\n    (out/"res.json").write_text(json.dumps(res))\n')
    bad = mp.hint_problems(quiet, "print the result and return it")
    assert bad == ['report: the hint says it prints, but its body has no print call',
                   'report: the hint says it returns a value, but its body has no return with a value'], bad
    assert mp.hint_problems(quiet, "json.dumps `res` into res.json of `out`; return nothing") == []
    keep = _fn('def tidy(folder):\n    "Check `folder`, removing nothing; its files."\n    if not folder.exists(): raise FileNotFoundError(folder)\n'
               '    def gone(p): return p.unlink()\n    return sorted(folder.iterdir())\n')
    bad = mp.hint_problems(keep, "refuse a missing folder, delete the old files and return the rest")
    assert len(bad) == 2 and all('deletes files' in p for p in bad), bad   # the nested `gone` is not its body
    assert mp.hint_problems(keep, "refuse a missing folder; return its files, sorted; remove nothing") == []
    assert mp.hint_problems(keep, "return its files, sorted, and raise nothing") == ["tidy: the hint says it does not ('... nothing'), but its body has a raise"]
    text = _fn('def clean(s):\n    "Lower-case `s` without punctuation."\n    return s.lower().translate(TABLE)\n')
    assert mp.hint_problems(text, "lower-case, delete string.punctuation, return the text") == []  # characters, not files


def _run_practice(path:Path, name:str, stop_after_section:bool):
    "Run a practice copy cell by cell; return {exercise: cell where its checks failed} and the seconds taken."
    from execnb.shell import CaptureShell, format_exc
    hints = mp.EXERCISES[name]
    by_msg = {mp.stub_message(h): f for f, h in hints.items()}
    nb = nbformat.read(path, as_version=4)
    solved_nb = mp.practice_notebook(mp.NBS/f'{name}.ipynb', solved=True)
    solved = {f: mp.function_source(c.source, f) for c in solved_nb.cells if c.cell_type == 'code'
              for f in hints if re.search(rf'^def {re.escape(f)}\(', c.source, re.M)}
    stubs_in = {i: [f for f, h in hints.items() if f'raise NotImplementedError("{mp.stub_message(h)}")' in c.source]
                for i, c in enumerate(nb.cells) if c.cell_type == 'code'}
    assert sorted(f for fs in stubs_in.values() for f in fs) == sorted(hints) == sorted(solved)
    t0, sh = time.time(), CaptureShell(path)
    active, failed_at = [], {}
    for i, c in enumerate(nb.cells):
        if stop_after_section and len(failed_at) == len(hints) and i > max(failed_at.values()) \
           and c.cell_type == 'markdown' and c.source.startswith('## '): break
        if c.cell_type != 'code' or _SKIP.search(c.source): continue
        active += stubs_in.get(i, [])
        for _ in range(len(hints) + 1):
            sh.run(c.source)
            e = sh.exc
            if e is None: break
            f = by_msg.get(str(e)) if isinstance(e, NotImplementedError) else None
            if f is None and isinstance(e, AssertionError) and len(active) == 1: f = active[0]
            if f not in active:
                pytest.fail(f"practice/{name}.ipynb, cell {i} failed, and not because of an unwritten exercise "
                            f"(written so far: {sorted(failed_at)}):\n{c.source}\n{''.join(format_exc(e))}")
            failed_at[f] = i
            sh.run(solved[f])                      # the package's own body in place of the stub
            assert sh.exc is None, f"the solved {f} does not run: {sh.exc!r}"
            active.remove(f)
        else: pytest.fail(f"practice/{name}.ipynb, cell {i} still fails with every exercise written: {sh.exc!r}")
    return failed_at, time.time() - t0


def test_exercises_cover_every_module():
    "Every notebook that exports a module has functions to write; only the tutorial, which exports nothing, has none."
    assert sorted(set(NAMES) - set(mp.EXERCISES)) == ['12_tutorial']


@pytest.mark.parametrize('name', [p for p in _param if p.values[0] in mp.EXERCISES])
def test_checks_fail_then_pass(name, tmp_path, monkeypatch):
    "Each exercise's checks fail while it is unwritten, and the notebook runs with the package's bodies."
    path = tmp_path/f'{name}.ipynb'
    path.write_text(mp.practice_text(mp.NBS/f'{name}.ipynb'), encoding='utf-8')
    monkeypatch.chdir(tmp_path)
    failed_at, secs = _run_practice(path, name, stop_after_section=name in SLOW)
    never = sorted(set(mp.EXERCISES[name]) - set(failed_at))
    assert not never, f"practice/{name}.ipynb: no cell failed while {never} was unwritten, so nothing checks it"
    print(f"{name}: checks failed at cells {failed_at}, then passed; {secs:.1f} s")


# ---------------------------------------------------------------- badges and Binder

@pytest.mark.parametrize('name', NAMES)
def test_badge_cell(name):
    "Cell 1 of each course notebook holds the badges, pointing at the notebook's own file on the branch of settings.ini."
    nb = nbformat.read(mp.NBS/f'{name}.ipynb', as_version=4)
    assert nb.cells[0].source.startswith('# '), "cell 0 is the title cell"
    assert nb.cells[1].source == badges.badge_cell_source(f'nbs/{name}.ipynb'), f"run python tools/badges.py nbs/{name}.ipynb"
    assert sum(badges.is_badge_cell(c) for c in nb.cells) == 1
    links = re.findall(r'\]\((https://[^)]+)\)(?!\])', nb.cells[1].source)
    assert links == [f'https://colab.research.google.com/github/squad-nb/squad_nb/blob/main/nbs/{name}.ipynb',
                     f'https://mybinder.org/v2/gh/squad-nb/squad_nb/main?labpath=nbs%2F{name}.ipynb',
                     f'https://studiolab.sagemaker.aws/import/github/squad-nb/squad_nb/blob/main/nbs/{name}.ipynb']


def test_badge_line_follows_settings(tmp_path):
    (tmp_path/'settings.ini').write_text('[DEFAULT]\ngit_url = https://github.com/someone/fork_nb\nbranch = dev\n')
    line = badges.badge_line('nbs/00_data.ipynb', tmp_path)
    assert '](https://colab.research.google.com/github/someone/fork_nb/blob/dev/nbs/00_data.ipynb)' in line
    assert '](https://mybinder.org/v2/gh/someone/fork_nb/dev?labpath=nbs%2F00_data.ipynb)' in line
    assert '](https://studiolab.sagemaker.aws/import/github/someone/fork_nb/blob/dev/nbs/00_data.ipynb)' in line


def test_set_badges(tmp_path):
    (tmp_path/'settings.ini').write_text((ROOT/'settings.ini').read_text())
    (tmp_path/'nbs').mkdir()
    p = tmp_path/'nbs'/'09_x.ipynb'
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell('# X\n\n> x'), nbformat.v4.new_code_cell('1')]), p)
    assert badges.set_badges(p, tmp_path) and not badges.set_badges(p, tmp_path)
    cells = nbformat.read(p, as_version=4).cells
    assert [c.cell_type for c in cells] == ['markdown', 'markdown', 'code']
    assert cells[1].source == badges.badge_cell_source('nbs/09_x.ipynb', tmp_path) and 'nbs%2F09_x.ipynb' in cells[1].source


def test_binder_requirements():
    "binder/requirements.txt installs the project with the extras the notebooks need, and the CPU torch the Makefile pins."
    lines = [l.strip() for l in (ROOT/'binder'/'requirements.txt').read_text().splitlines() if l.strip() and not l.startswith('#')]
    torch_pin = re.search(r'^TORCH\s*:=\s*(\S+)', (ROOT/'Makefile').read_text(), re.M).group(1)
    assert torch_pin in lines and '--extra-index-url https://download.pytorch.org/whl/cpu' in lines
    local = [l for l in lines if l.startswith('-e .')]
    assert local, "the project itself must be installed (-e .[...])"
    extras = set(re.search(r'\[([^\]]*)\]', local[0]).group(1).split(','))
    cfg = configparser.ConfigParser(delimiters=['=']); cfg.read(ROOT/'settings.ini', encoding='utf-8')
    assert {'dev', 'demo'} <= extras and all(cfg['DEFAULT'].get(f'{e}_requirements') for e in extras)
