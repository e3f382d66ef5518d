"""Execute notebooks in place so their outputs (tables, plots) are saved for the docs, then clean them.

    python tools/run_nb.py nbs/00_data.ipynb [nbs/01_features.ipynb ...]

`#| eval: false` cells (hub downloads) and the final `nbdev_export()` cell are skipped: they are tagged
`skip-execution` for the run only, and `nbdev_clean` removes the tags again. Progress bars (saved at
0 %, since a page cannot run them) and transformers' load reports (which name this machine's paths) are dropped from
the saved outputs."""
import re, sys, subprocess, nbformat

BAR = re.compile(r'\d+%\|')   # tqdm's "  0%|      | 0/16"
WIDGET_VIEW = 'application/vnd.jupyter.widget-view+json'

def _noise(out) -> bool:
    "A saved output that is a progress bar or transformers' load report."
    text = out.get('text') or out.get('data', {}).get('text/plain') or ''
    text = text if isinstance(text, str) else ''.join(text)
    return 'LOAD REPORT' in text or (out.get('output_type') == 'display_data' and bool(BAR.search(text)))

def drop_noise(path):
    "Remove progress bars and load reports from the saved outputs of the notebook at `path`."
    nb = nbformat.read(path, 4)
    for c in nb.cells:
        if c.cell_type == 'code': c.outputs = [o for o in c.outputs if not _noise(o)]
    if not any(WIDGET_VIEW in o.get('data', {}) for c in nb.cells if c.cell_type == 'code' for o in c.outputs):
        nb.metadata.pop('widgets', None)   # only the bars' states were left
    nbformat.write(nb, path)

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
    drop_noise(path)
    subprocess.run(['nbdev_clean', '--fname', path], check=True)

if __name__ == '__main__':
    for p in sys.argv[1:]: run(p)
