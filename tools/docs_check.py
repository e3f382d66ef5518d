"""Check the documentation site without Quarto: process, render and open every page in headless Chromium.

`nbdev_docs` needs Quarto. This check stands in for it wherever Quarto is not installed (CI included):

1. the site configuration agrees with itself (nbs/_quarto.yml, nbs/sidebar.yml, settings.ini);
2. the notebooks in nbs/ are processed into _proc/ exactly as `nbdev_docs` does it (nbdev's own
   `FilterDefaults` processors: frontmatter, hidden cells, `show_doc`, a fresh shell per notebook that
   runs the import, export and `show_doc` cells), reporting every notebook that fails, with its cell;
3. each processed notebook is rendered to HTML with `jupyter nbconvert --to html` into
   build/docs-check/html/ (the frontmatter becomes a title block, as Quarto shows it);
4. each page is opened in headless Chromium, which dumps its DOM and takes a screenshot into
   build/docs-check/screenshots/.

A page fails when it does not load, shows a Python traceback or error output, or lacks its title
(the frontmatter title nbdev derives from the notebook's first `# Title` heading). Widgets without
a saved state (the site would show no static rendering of them) give a warning.

Run it with `make docs-check` or `python tools/docs_check.py [--allow-missing] [--online] [NOTEBOOK ...]`.
"""
import argparse, html, os, re, shutil, subprocess, sys, tempfile, time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from html.parser import HTMLParser
from multiprocessing import get_context
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT/'build'/'docs-check'
WIDGET_VIEW = 'application/vnd.jupyter.widget-view+json'
WIDGET_STATE = 'application/vnd.jupyter.widget-state+json'
CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                  '--disable-background-networking', '--disable-component-update', '--disable-sync']
# Offline by default: pages load their JavaScript helpers (RequireJS, MathJax, the widget manager)
# from CDNs; refusing every host but the local files makes the check fast and the same everywhere.
OFFLINE_FLAGS = ['--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost']
TRACEBACK_RES = [re.compile(r'Traceback \(most recent call last\)'),
                 re.compile(r'\b[A-Z]\w*(?:Error|Exception)\s+Traceback\b')]


# ---------------------------------------------------------------- 1. configuration

def check_config(nbs:Path, cfg, allow_missing:bool):
    "Errors and warnings about nbs/_quarto.yml and nbs/sidebar.yml."
    errors, warnings = [], []
    q = yaml.safe_load((nbs/'_quarto.yml').read_text())
    if q.get('project', {}).get('type') != 'website': errors.append("nbs/_quarto.yml: project.type must be website")
    mf = q.get('metadata-files', [])
    for f in ('nbdev.yml', 'sidebar.yml'):
        if f not in mf: errors.append(f"nbs/_quarto.yml: metadata-files lacks {f}")
    nav = q.get('website', {}).get('navbar', {})
    hrefs = [o.get('href') for o in nav.get('left', []) + nav.get('right', []) if isinstance(o, dict)]
    if cfg['git_url'] not in hrefs:
        errors.append(f"nbs/_quarto.yml: the navbar has no link to git_url {cfg['git_url']} of settings.ini")
    pages = [h for h in hrefs if h and '://' not in h]
    side = yaml.safe_load((nbs/'sidebar.yml').read_text())
    def _walk(items):
        for o in items:
            if isinstance(o, str): yield o
            elif isinstance(o, dict):
                if 'href' in o: yield o['href']
                yield from _walk(o.get('contents', []))
    listed = list(_walk(side['website']['sidebar']['contents']))
    for f in dict.fromkeys(listed + pages):
        if not (nbs/f).exists():
            (warnings if allow_missing else errors).append(f"the site links to nbs/{f}, which does not exist")
    for f in sorted(nbs.glob('*.ipynb')):
        if f.name not in listed: warnings.append(f"nbs/{f.name} is not in nbs/sidebar.yml: readers cannot reach it")
    return errors, warnings


# ---------------------------------------------------------------- 2. nbdev processing

def _describe(e:Exception):
    "nbdev's message (notebook, cell index, cell source) and the error the cell raised."
    msg = str(e).strip()
    tb = str(getattr(e, '__cause__', None) or '')  # the worker's formatted traceback, chained causes first
    first = tb.split('The above exception was the direct cause')[0].strip().splitlines()
    cause = next((l.strip() for l in reversed(first) if l.strip() and not l.startswith(' ')), '')
    if cause and cause not in msg: msg += f"\n    the cell raised: {cause}"
    return f"{type(e).__name__}: {msg}"


def process(nbs:Path, only, n_workers:int):
    "Write processed notebooks to _proc/ with nbdev's processors; return {notebook name: error}."
    from nbdev.config import get_config
    from nbdev.doclinks import nbglob
    from nbdev.quarto import refresh_quarto_yml
    from nbdev.serve import _proc_file
    import nbdev.serve_drv
    cfg = get_config()
    refresh_quarto_yml()
    cache = cfg.config_path/'_proc'
    shutil.rmtree(cache, ignore_errors=True)  # always from scratch: a check must not trust a cache
    cache.mkdir()
    files = nbglob(nbs, func=Path, file_glob='', file_re='')
    files += [nbs/o for o in ('_quarto.yml', '_brand.yml') if (nbs/o).exists()]
    items = [o for o in (_proc_file(f, cache, nbs) for f in files) if o]  # non-notebooks are copied here
    items = [o for o in items if not only or o[0].name in only]
    # nbdev's worker itself (each notebook gets a fresh shell; IPython replaces a worker's __main__)
    errs = {}
    with ProcessPoolExecutor(n_workers, mp_context=get_context('spawn')) as ex:
        futs = {o[0].name: ex.submit(nbdev.serve_drv.main, o) for o in items}
        for k, f in futs.items():
            try: f.result()
            except Exception as e: errs[k] = _describe(e) + _locate(e, nbs/k)
    return cache, errs


def _locate(e:Exception, nb_path:Path):
    "Where the failing cell nbdev names sits in the notebook itself (nbdev counts cells it added)."
    import nbformat
    src = str(e).partition(':\n')[2].strip()
    if not src: return ''
    idx = [i for i, c in enumerate(nbformat.read(nb_path, as_version=4).cells) if c.source.strip() == src]
    return f"\n    (cell {idx[0]} of nbs/{nb_path.name}, counting from 0)" if idx else ''


# ---------------------------------------------------------------- 3. HTML

def _frontmatter(nb):
    "The frontmatter dict nbdev put into the first raw cell, and that cell's index."
    for i, c in enumerate(nb.cells):
        lines = c.source.strip().splitlines()
        if c.cell_type == 'raw' and len(lines) > 1 and lines[0].strip() == lines[-1].strip() == '---':
            return yaml.safe_load('\n'.join(lines[1:-1])) or {}, i
    return {}, None


def _directives(src:str):
    "Quarto cell options (`#| key: value`) at the top of a code cell, and the source without them."
    lines, d = src.splitlines(), {}
    while lines and re.match(r'\s*#\|', lines[0]):
        m = re.match(r'\s*#\|\s*([\w-]+)\s*:\s*(.*)', lines.pop(0))
        if m: d[m[1].lower()] = m[2].strip().lower()
    return d, '\n'.join(lines)


# `[source](url){target="_blank"}`: Quarto reads it, nbconvert would print it
_PANDOC_ATTRS = re.compile(r'\)\{[^{}\n]*\}')


def prepare_for_html(src:Path, dst:Path):
    "Copy a processed notebook, shown as Quarto would: a title block, no `#|` options, no hidden inputs/outputs."
    import nbformat
    nb = nbformat.read(src, as_version=4)
    fm, i = _frontmatter(nb)
    if i is not None:
        md = ((f"# {fm['title']}\n\n" if fm.get('title') else '')
              + (f"> {fm['description']}" if fm.get('description') else ''))
        nb.cells[i] = nbformat.v4.new_markdown_cell(md)
    if fm.get('title'): nb.metadata['title'] = fm['title']
    for c in nb.cells:
        if c.cell_type == 'markdown': c.source = _PANDOC_ATTRS.sub(')', c.source)
        for o in c.get('outputs', []):
            if 'text/markdown' in o.get('data', {}):
                o.data['text/markdown'] = _PANDOC_ATTRS.sub(')', o.data['text/markdown'])
        if c.cell_type != 'code': continue
        (d, c.source), tags = _directives(c.source), c.metadata.setdefault('tags', [])
        if d.get('include') == 'false': tags.append('dc-remove-cell')
        if d.get('echo') == 'false': tags.append('dc-remove-input')
        if d.get('output') == 'false': tags.append('dc-remove-output')
    nbformat.write(nb, dst)
    return fm


_MD_IMG = re.compile(r'!\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)|<img\b[^>]*?\bsrc="([^"]+)"')


def copy_images(proc_nb:Path, cache:Path, html_dir:Path):
    "Copy the local images markdown cells show into the HTML folder; errors for those Quarto would not find."
    import nbformat
    errors = []
    for c in nbformat.read(proc_nb, as_version=4).cells:
        if c.cell_type != 'markdown': continue
        for m in _MD_IMG.finditer(c.source):
            url = m[1] or m[2]
            if re.match(r'^[a-z][\w+.-]*:', url) or url.startswith(('/', '#')): continue  # URLs, data:, attachment:
            f = cache/url
            if f.is_file():
                (html_dir/url).parent.mkdir(parents=True, exist_ok=True); shutil.copy2(f, html_dir/url)
            else: errors.append(f"shows the image {url}, which is not in _proc/ where the site is rendered "
                                "(missing from nbs/, or in a subfolder while settings.ini has recursive = False)")
    return errors


def render_html(nbs_dir:Path, html_dir:Path, names):
    "One `jupyter nbconvert --to html` run over all prepared notebooks."
    cmd = [sys.executable, '-m', 'jupyter', 'nbconvert', '--to', 'html', '--output-dir', str(html_dir), '--no-prompt',
           '--TagRemovePreprocessor.enabled=True',
           "--TagRemovePreprocessor.remove_cell_tags=dc-remove-cell",
           "--TagRemovePreprocessor.remove_input_tags=dc-remove-input",
           "--TagRemovePreprocessor.remove_all_outputs_tags=dc-remove-output",
           *[str(nbs_dir/n) for n in names]]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode: raise SystemExit(f"docs-check: jupyter nbconvert failed:\n{r.stderr[-3000:]}")


# ---------------------------------------------------------------- 4. headless Chromium

def find_chromium():
    for o in (os.environ.get('CHROMIUM'), 'chromium', 'chromium-browser', 'google-chrome'):
        if o and shutil.which(o): return shutil.which(o)
    raise SystemExit("docs-check: Chromium not found: install it (Debian: `apt-get install -y chromium`) "
                     "or set CHROMIUM=/path/to/chrome")


def open_page(chromium:str, page:Path, png:Path, online:bool, timeout:int=120):
    "Dump the DOM of `page` after its scripts ran and screenshot it; return (dom, error)."
    with tempfile.TemporaryDirectory(prefix='docs-check-chromium-') as prof:
        cmd = [chromium, *CHROMIUM_FLAGS, *([] if online else OFFLINE_FLAGS), f'--user-data-dir={prof}',
               '--dump-dom', f'--screenshot={png}', '--window-size=1280,2000', page.as_uri()]
        try: r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired: return '', f"Chromium did not finish loading it in {timeout} s"
    if r.returncode: return r.stdout, f"Chromium exited with {r.returncode}: {r.stderr.strip()[-500:]}"
    if '<body' not in r.stdout or 'jp-Notebook' not in r.stdout: return r.stdout, "the page did not load (empty DOM)"
    if not png.exists(): return r.stdout, "Chromium wrote no screenshot"
    return r.stdout, None


class _Text(HTMLParser):
    "Collect the visible text and the text of each <h1> of a DOM."
    def __init__(self):
        super().__init__(); self.text, self.h1s, self._h1, self._skip = [], [], None, 0
    def handle_starttag(self, tag, attrs):
        if tag in ('script', 'style'): self._skip += 1
        if tag == 'h1': self._h1 = []
    def handle_endtag(self, tag):
        if tag in ('script', 'style'): self._skip = max(0, self._skip-1)
        if tag == 'h1' and self._h1 is not None: self.h1s.append(''.join(self._h1)); self._h1 = None
    def handle_data(self, data):
        if self._skip: return
        self.text.append(data)
        if self._h1 is not None: self._h1.append(data)


def _norm(s): return ' '.join(html.unescape(s).replace('\u00b6', ' ').split())


_RENDERED_WIDGET = re.compile(r'class="[^"]*\b(?:lm-Widget|p-Widget|widget-[a-z])')  # what the widget manager draws
IMAGE_MIMES = ('image/png', 'image/jpeg', 'image/gif', 'image/svg+xml')


def check_page(proc_nb:Path, src_nb:Path, fm:dict, dom:str):
    "Errors, warnings and facts (title found, images) for one page, from its notebooks and its DOM."
    import nbformat
    errors, warnings = [], []
    title = fm.get('title')
    p = _Text(); p.feed(dom)
    text = '\n'.join(p.text)
    found = bool(title) and _norm(title) in [_norm(h) for h in p.h1s]
    if not title: errors.append("lacks its title: the notebook has no first `# Title` heading (no frontmatter title)")
    elif not found: errors.append(f"lacks its title {title!r} in the page")
    nb = nbformat.read(proc_nb, as_version=4)
    outs = [(i, o) for i, c in enumerate(nb.cells) for o in c.get('outputs', [])]
    for i, o in outs:
        if o.output_type == 'error': errors.append(f"cell {i} shows an error output: {o.ename}: {o.evalue}")
    for r in TRACEBACK_RES:
        m = r.search(text)
        if m:
            around = ' '.join(text[max(0, m.start()-200):m.end()+200].split())
            errors.append(f"the page shows a Python traceback: ...{around}..."); break
    n_img = sum(any(k in o.get('data', {}) for k in IMAGE_MIMES) and WIDGET_VIEW not in o.get('data', {})
                for _, o in outs)
    n_dom = dom.count('class="jp-RenderedImage') + dom.count('class="jp-RenderedSVG')
    if n_dom < n_img: errors.append(f"shows {n_dom} of its {n_img} images (plots)")
    src = nbformat.read(src_nb, as_version=4)
    code = [c for c in src.cells if c.cell_type == 'code' and c.source.strip()]
    if code and not any(c.get('outputs') for c in code):
        warnings.append(f"no code cell of {src_nb.name} has an output: was it saved without running it?")
    views = [o['data'][WIDGET_VIEW]['model_id'] for _, o in outs if WIDGET_VIEW in o.get('data', {})]
    if views:
        state = nb.metadata.get('widgets', {}).get(WIDGET_STATE, {}).get('state', {})
        lost = [v for v in views if v not in state]
        if lost: warnings.append(f"{len(lost)} of {len(views)} widgets have no saved state: the site shows no "
                                 "static rendering of them (execute the notebook with widget state saved)")
        if 'Loading widget' in text or not _RENDERED_WIDGET.search(dom):
            warnings.append(f"{len(views)} widgets not rendered in this check (their manager loads from a CDN; "
                            "use --online where it is reachable)")
    return errors, warnings, dict(title_found=found, images=f"{n_dom}/{n_img}", widgets=len(views))


# ---------------------------------------------------------------- main

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('notebooks', nargs='*', help="only these notebooks of nbs/ (file names); default all")
    ap.add_argument('--allow-missing', action='store_true',
                    help="pages the sidebar/navbar link to may be missing (warn)")
    ap.add_argument('--online', action='store_true', help="let pages load their JavaScript from CDNs")
    ap.add_argument('--n-workers', type=int, default=os.cpu_count() or 1)
    args = ap.parse_args(argv)
    os.chdir(ROOT)
    from nbdev.config import get_config
    cfg = get_config()
    nbs = cfg.nbs_path
    only = {Path(o).name for o in args.notebooks}
    t0 = time.time(); times = {}
    chromium = find_chromium()

    errors, warnings = check_config(nbs, cfg, args.allow_missing)
    cache, proc_errs = process(nbs, only, args.n_workers); times['nbdev processing'] = time.time()-t0
    for k, v in proc_errs.items(): errors.append(f"{k}: nbdev processing failed: {v}")

    shutil.rmtree(OUT, ignore_errors=True)
    (nbs_dir := OUT/'nbs').mkdir(parents=True)
    (html_dir := OUT/'html').mkdir(); (png_dir := OUT/'screenshots').mkdir()
    names = sorted(p.name for p in cache.glob('*.ipynb') if p.name not in proc_errs and (not only or p.name in only))
    fms = {n: prepare_for_html(cache/n, nbs_dir/n) for n in names}
    # each page gets the file name it has on the site (nbdev's output-file: 00_data.ipynb -> data.html)
    pages = {n: fms[n].get('output-file') or Path(n).stem+'.html' for n in names}
    for n in names:
        same = [m for m in names if pages[m] == pages[n]]
        if same[0] == n and len(same) > 1: errors.append(f"{', '.join(same)} would all be the site's page {pages[n]}")
    for n in names: (nbs_dir/n).rename(nbs_dir/(Path(pages[n]).stem+'.ipynb'))
    t = time.time()
    if names: render_html(nbs_dir, html_dir, sorted({Path(p).stem+'.ipynb' for p in pages.values()}))
    for n in names: errors += [f"{n}: {e}" for e in copy_images(cache/n, cache, html_dir)]
    times['nbconvert html'] = time.time()-t

    t = time.time()
    def _one(n):
        page, png = html_dir/pages[n], png_dir/(Path(pages[n]).stem+'.png')
        dom, err = open_page(chromium, page, png, args.online)
        (OUT/'dom').mkdir(exist_ok=True); (OUT/'dom'/page.name).write_text(dom)
        if err: return n, page, png, [err], [], {}
        return (n, page, png, *check_page(cache/n, nbs/n, fms[n], dom))
    with ThreadPoolExecutor(args.n_workers) as ex: results = list(ex.map(_one, names))
    times['chromium'] = time.time()-t

    rows = [('notebook', 'page', 'title found', 'html size', 'images', 'widgets', 'screenshot', 'status')]
    for n, page, png, errs, warns, info in results:
        rows.append((n, page.name, fms[n].get('title') if info.get('title_found') else 'NO',
                     f"{page.stat().st_size/1024:.0f} KiB", info.get('images', '-'), info.get('widgets', '-'),
                     str(png.relative_to(ROOT)) if png.exists() else '-',
                     'FAIL' if errs else ('warn' if warns else 'ok')))
        errors += [f"{n} ({page.name}): {e}" for e in errs]; warnings += [f"{n} ({page.name}): {w}" for w in warns]
    for k in proc_errs: rows.append((k, '-', '?', '-', '-', '-', '-', 'FAIL (processing)'))
    w = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    print()
    for j, r in enumerate(rows):
        print('  '.join(str(c).ljust(w[i]) for i, c in enumerate(r)).rstrip())
        if j == 0: print('  '.join('-'*x for x in w))
    print('\ntimings: ' + ', '.join(f"{k} {v:.1f} s" for k, v in times.items()) + f", total {time.time()-t0:.1f} s")
    for m in warnings: print(f"WARNING: {m}")
    for m in errors: print(f"ERROR: {m}")
    if errors:
        print(f"\ndocs-check FAILED: {len(errors)} problem(s); "
              f"pages, DOMs and screenshots are in {OUT.relative_to(ROOT)}/")
        return 1
    print(f"\ndocs-check passed: {len(results)} pages; screenshots in {png_dir.relative_to(ROOT)}/")
    return 0


if __name__ == '__main__': sys.exit(main())
