"The package as users get it: a wheel built offline, installed into a fresh virtual environment, imported and run from there."
import configparser, json, os, shutil, subprocess, sys, sysconfig, zipfile
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
CFG = configparser.ConfigParser(delimiters=['=']); CFG.read(ROOT/'settings.ini', encoding='utf-8')
LIB, VERSION = CFG['DEFAULT']['lib_name'], CFG['DEFAULT']['version']
# what setup.py reads, besides the package itself
BUILD_FILES = ['setup.py', 'settings.ini', 'pyproject.toml', 'MANIFEST.in', 'README.md', 'LICENSE']


def _run(cmd, cwd, timeout=120):
    "Run `cmd` outside the project (no PYTHONPATH, not in the repository) and fail with its output if it fails."
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'PYTHONHOME', 'VIRTUAL_ENV')}
    r = subprocess.run([str(o) for o in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if r.returncode: pytest.fail(f"{' '.join(map(str, cmd))} exited with {r.returncode}:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return r.stdout


@pytest.fixture(scope='module')
def wheel(tmp_path_factory):
    "A wheel built offline (no index, no build isolation) from a copy of the sources."
    try: import setuptools  # noqa: F401
    except ImportError: pytest.fail("setuptools is missing from this environment: `pip install setuptools` (a build without isolation needs it)")
    tmp = tmp_path_factory.mktemp('wheel')
    # A copy, because setuptools keeps build/lib between builds: a module deleted from squad_nb/ would live on in the wheel
    src = tmp/'src'
    src.mkdir()
    for f in BUILD_FILES: shutil.copy2(ROOT/f, src/f)
    shutil.copytree(ROOT/LIB, src/LIB, ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
    _run([sys.executable, '-m', 'pip', 'wheel', '.', '--no-deps', '--no-build-isolation', '--no-index', '-q', '-w', tmp/'dist'], cwd=src)
    whls = list((tmp/'dist').glob('*.whl'))
    assert len(whls) == 1, whls
    return whls[0]


@pytest.fixture(scope='module')
def env(wheel, tmp_path_factory):
    "A fresh venv with the wheel installed; this environment's packages are visible behind it (a .pth file), not installed."
    e = tmp_path_factory.mktemp('venv')/'env'
    _run([sys.executable, '-m', 'venv', e], cwd=e.parent)
    py = e/'bin'/'python'
    site = Path(_run([py, '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'], cwd=e.parent).strip())
    # appended after the venv's own site-packages: the wheel's squad_nb comes first, torch & co. come from here
    (site/'_outer_env.pth').write_text(sysconfig.get_paths()['purelib'] + '\n')
    _run([e/'bin'/'pip', 'install', '--no-deps', '--no-index', '-q', wheel], cwd=e.parent)
    return e


def test_wheel_contents(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for f in ('sample/train.json', 'sample/valid.json', 'sample/README.md', '_modidx.py', '__init__.py'):
        assert f'{LIB}/{f}' in names, f"{LIB}/{f} is not in {wheel.name}"
    modules = {f'{LIB}/{p.relative_to(ROOT/LIB).as_posix()}' for p in (ROOT/LIB).rglob('*.py')}
    assert modules <= names, f"modules missing from the wheel: {sorted(modules - names)}"
    assert not [n for n in names if n.startswith(('nbs/', 'tests/', 'tools/', 'bench/'))]
    meta = next(n for n in names if n.endswith('.dist-info/METADATA'))
    assert f'Version: {VERSION}' in zipfile.ZipFile(wheel).read(meta).decode()
    eps = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith('.dist-info/entry_points.txt'))).decode()
    for script in CFG['DEFAULT']['console_scripts'].split():  # e.g. squad_nb=squad_nb.cli:main
        name, target = script.split('=')
        assert f'{name} = {target}' in eps, eps
        assert target.split(':')[0].replace('.', '/') + '.py' in names, f"{target} of console script {name} is not in the wheel"


def test_the_starter_model_is_in_the_wheel_and_small(wheel):
    "The starter model's adapter, settings and card are package data, and add at most 3 MB to the wheel."
    z = zipfile.ZipFile(wheel)
    starter = [i for i in z.infolist() if i.filename.startswith(f'{LIB}/starter/')]
    names = {i.filename.rsplit('/', 1)[1] for i in starter}
    assert {'adapter_model.safetensors', 'adapter_config.json', 'squad_nb.json', 'README.md'} <= names, names
    assert sum(i.compress_size for i in starter) <= 3_000_000, sum(i.compress_size for i in starter)


def test_the_starter_model_loads_from_the_installed_package(env):
    "Installed from the wheel, `minilm-squad` loads offline by its name and answers."
    code = ("from squad_nb.evaluate import predict; "
            "print(predict('minilm-squad', 'Where did the raiders come from?', 'The raiders came from Denmark.')[0]['best_span'])")
    out = _run([env/'bin'/'python', '-c', code], cwd=env.parent, timeout=300)
    assert out.strip().splitlines()[-1] == 'Denmark', out


def test_installed_copy_is_imported(env):
    where = _run([env/'bin'/'python', '-c', f'import {LIB}; print({LIB}.__file__, {LIB}.__version__)'], cwd=env.parent).split()
    assert Path(where[0]).resolve().is_relative_to(env.resolve()), f"{LIB} was imported from {where[0]}, not from the new venv"
    assert where[1] == VERSION


def test_sample_loads_from_installed_package(env):
    out = _run([env/'bin'/'python', '-c', f"from {LIB}.data import load_squad; print(len(load_squad('sample')['train']))"], cwd=env.parent)
    sample = json.loads((ROOT/LIB/'sample'/'train.json').read_text(encoding='utf-8'))
    n = sum(len(p['qas']) for a in sample['data'] for p in a['paragraphs'])
    assert int(out.strip().splitlines()[-1]) == n


def test_console_script(env):
    script = env/'bin'/LIB
    assert script.exists(), f"pip installed no {LIB} console script"
    out = _run([script, '--help'], cwd=env.parent)
    assert 'usage' in out.lower(), out
