"""'Open in Colab', Binder and SageMaker Studio Lab badges for the course notebooks.

    python tools/badges.py                          # insert or update the badge cell of every nbs/NN_name.ipynb
    python tools/badges.py nbs/12_tutorial.ipynb    # ... of the notebooks given
    python tools/badges.py --check                  # write nothing; exit 1 when a badge cell is missing or stale

The badge cell is a small markdown cell right after the notebook's title cell (`# Title` and `> description`,
which nbdev turns into the page's title block). Its links point at the notebook's own file on GitHub, from
`git_url` and `branch` of settings.ini. Binder builds its environment from binder/requirements.txt; Colab and
Studio Lab start from their own, so the cell says what to install there first.
"""
import argparse, configparser, sys
from pathlib import Path
from urllib.parse import quote, urlparse

import nbformat

ROOT = Path(__file__).resolve().parents[1]
COLAB_IMG = 'https://colab.research.google.com/assets/colab-badge.svg'
BINDER_IMG = 'https://mybinder.org/badge_logo.svg'
STUDIOLAB_IMG = 'https://studiolab.sagemaker.aws/studiolab.svg'
INSTALL_NOTE = ('On Colab or Studio Lab, first run `!pip install squad_nb[demo] nbdev` in a new cell (and restart the '
                'runtime if it asks); Binder installs everything the notebooks need from `binder/requirements.txt`.')


def repo_info(root=ROOT) -> tuple:
    "(user, repo, branch) of the project on GitHub, from `git_url` and `branch` of settings.ini."
    cfg = configparser.ConfigParser(delimiters=['=']); cfg.read(Path(root)/'settings.ini', encoding='utf-8')
    d = cfg['DEFAULT']
    u = urlparse(d['git_url'])
    if u.netloc != 'github.com': raise ValueError(f"settings.ini: git_url {d['git_url']} is not a GitHub repository")
    user, repo = u.path.strip('/').removesuffix('.git').split('/')[:2]
    return user, repo, d.get('branch', 'main')


def badge_line(path:str, # the notebook's path in the repository, e.g. 'nbs/01_features.ipynb'
               root=ROOT) -> str:
    "The markdown line of the Colab, Binder and Studio Lab badges of the notebook at `path`."
    user, repo, branch = repo_info(root)
    path = Path(path).as_posix()
    colab = f'https://colab.research.google.com/github/{user}/{repo}/blob/{branch}/{path}'
    binder = f'https://mybinder.org/v2/gh/{user}/{repo}/{branch}?labpath={quote(path, safe="")}'
    studio = f'https://studiolab.sagemaker.aws/import/github/{user}/{repo}/blob/{branch}/{path}'
    return (f'[![Open In Colab]({COLAB_IMG})]({colab}) [![Binder]({BINDER_IMG})]({binder}) '
            f'[![Open In SageMaker Studio Lab]({STUDIOLAB_IMG})]({studio})')


def badge_cell_source(path:str, root=ROOT) -> str:
    "The source of the badge cell of the notebook at `path` (relative to the repository root)."
    return badge_line(path, root) + '\n\n' + INSTALL_NOTE


def is_badge_cell(cell) -> bool:
    "Whether `cell` is a badge cell (a markdown cell showing the Colab badge)."
    return cell.cell_type == 'markdown' and COLAB_IMG in cell.source


def set_badges(nb_path, root=ROOT, write=True) -> bool:
    "Insert or update the badge cell right after the title cell of `nb_path`; whether the notebook changed."
    nb_path = Path(nb_path).resolve()
    nb = nbformat.read(nb_path, as_version=4)
    want = badge_cell_source(nb_path.relative_to(Path(root).resolve()).as_posix(), root)
    if len(nb.cells) > 1 and is_badge_cell(nb.cells[1]):
        if nb.cells[1].source == want: return False
        nb.cells[1].source = want
    else:
        others = [i for i, c in enumerate(nb.cells) if is_badge_cell(c)]
        if others:
            raise ValueError(f"{nb_path}: the badge cell must be cell 1, right after the title, not cell {others[0]}")
        nb.cells.insert(1, nbformat.v4.new_markdown_cell(want))
    if write: nbformat.write(nb, nb_path)
    return True


def course_notebooks(root=ROOT) -> list:
    return sorted((Path(root)/'nbs').glob('[0-9][0-9]_*.ipynb'))


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('notebooks', nargs='*', help='notebooks to update (default: every nbs/NN_name.ipynb)')
    ap.add_argument('--check', action='store_true', help='write nothing; exit 1 when a badge cell is missing or stale')
    a = ap.parse_args()
    nbs = [Path(p) for p in a.notebooks] or course_notebooks()
    changed = [p for p in nbs if set_badges(p, write=not a.check)]
    if a.check and changed:
        sys.exit(f"badge cells missing or stale in: {', '.join(p.name for p in changed)} (run python tools/badges.py)")
    for p in changed: print(f"updated the badge cell of {p}")
