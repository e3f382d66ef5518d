"""Execute notebooks in place so their outputs (tables, plots) are saved for the docs, then clean them.

    python tools/run_nb.py nbs/00_data.ipynb [nbs/01_features.ipynb ...]

`#| eval: false` cells (hub downloads) and the final `nbdev_export()` cell are skipped: they are tagged
`skip-execution` for the run only, and `nbdev_clean` removes the tags again."""
import sys, subprocess, nbformat

def _skip(cell):
    src = cell.source.replace(' ', '')
    return cell.cell_type == 'code' and ('#|eval:false' in src or 'nbdev.nbdev_export()' in src)

def run(path):
    nb = nbformat.read(path, 4)
    for c in nb.cells:
        if _skip(c): c.metadata.setdefault('tags', []).append('skip-execution')
    nbformat.write(nb, path)
    subprocess.run(['jupyter', 'nbconvert', '--to', 'notebook', '--execute', '--inplace',
                    '--ExecutePreprocessor.timeout=1800', path], check=True)
    subprocess.run(['nbdev_clean', '--fname', path], check=True)

if __name__ == '__main__':
    for p in sys.argv[1:]: run(p)
