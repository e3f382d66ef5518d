"""Write README.md from nbs/index.ipynb without Quarto (what `nbdev_readme` does with it).

1. nbs/index.ipynb is processed into _proc/index.ipynb with nbdev's own processors (hidden cells,
   frontmatter, `show_doc`), as `nbdev_docs` does it;
2. nbconvert's markdown exporter turns it into markdown, shown as Quarto would show it: the
   frontmatter as `# title` and `> description`, no `#|` option lines, `echo`/`include`/`output`
   honoured, links to other notebooks pointing at their pages on the docs site;
3. README.md is written at the repository root, with the images it shows (plot outputs, images of
   markdown cells) written beside it in index_files/; every image it references exists.

Running it twice gives the same files (README.md and index_files/ are only rewritten when they change).
`--check` writes nothing and exits 1 when README.md or index_files/ are out of date.
"""
import argparse, re, shutil, sys
from pathlib import Path

import yaml
sys.path.insert(0, str(Path(__file__).parent))
from docs_check import _directives  # the same reading of Quarto cell options as the docs check

ROOT = Path(__file__).resolve().parents[1]
FILES = 'index_files'  # beside README.md, like nbdev_readme's `index_files/`
_IMG = re.compile(r'(!\[[^\]]*\]\()([^)\s]+)((?:\s+"[^"]*")?\))|(<img\b[^>]*?\bsrc=")([^"]+)(")')
_NB_LINK = re.compile(r'(?<!!)(\[[^\]]*\]\()([^)\s:#]+\.ipynb)(#[^)\s]*)?\)')


def process_index(cfg):
    "Process nbs/<readme_nb> into _proc/ with nbdev's processors; return the processed notebook's path."
    import nbdev.serve_drv
    from nbdev.processors import FilterDefaults
    src = cfg.nbs_path/cfg.readme_nb
    if not src.exists(): raise SystemExit(f"make_readme: {src.relative_to(ROOT)} does not exist")
    dst = cfg.config_path/'_proc'/src.relative_to(cfg.nbs_path)
    dst.parent.mkdir(parents=True, exist_ok=True)
    nbdev.serve_drv.main((src, dst, FilterDefaults))
    return dst


def quarto_view(nb, cfg):
    "Edit a processed notebook in place into what Quarto would show of it."
    import nbformat
    from nbdev.doclinks import _nbpath2html
    site = cfg.doc_host.rstrip('/') + '/' + cfg.doc_baseurl.strip('/')
    def _link(m):
        page = _nbpath2html(Path(m[2])).as_posix()
        return f"{m[1]}{site}/{page}{m[3] or ''})"
    cells = []
    for c in nb.cells:
        if c.cell_type == 'raw' and c.source.startswith('---'):
            fm = yaml.safe_load(c.source.strip().strip('-')) or {}
            head = ((f"# {fm['title']}\n\n" if fm.get('title') else '')
                    + (f"> {fm['description']}" if fm.get('description') else ''))
            if head: cells.append(nbformat.v4.new_markdown_cell(head.strip()))
            continue
        if c.cell_type == 'markdown': c.source = _NB_LINK.sub(_link, c.source)
        if c.cell_type == 'code':
            d, c.source = _directives(c.source)
            if d.get('include') == 'false': continue
            if d.get('output') == 'false': c.outputs = []
            if d.get('echo') == 'false': c.metadata.setdefault('tags', []).append('readme-remove-input')
            for o in c.outputs:
                if 'text/markdown' in o.get('data', {}):
                    o.data['text/markdown'] = _NB_LINK.sub(_link, o.data['text/markdown'])
        cells.append(c)
    nb.cells = cells
    return nb


def to_markdown(nb):
    "Markdown text and {relative path: bytes} of the image outputs, from nbconvert's markdown exporter."
    from nbconvert import MarkdownExporter
    from traitlets.config import Config
    c = Config()
    c.TagRemovePreprocessor.enabled = True
    c.TagRemovePreprocessor.remove_input_tags = {'readme-remove-input'}
    c.ExtractOutputPreprocessor.enabled = True
    c.ExtractAttachmentsPreprocessor.enabled = True
    body, res = MarkdownExporter(config=c).from_notebook_node(
        nb, resources={'output_files_dir': FILES, 'unique_key': 'output'})
    return body, dict(res.get('outputs', {}))


def collect_images(md:str, nbs:Path, nb_name:str):
    "Copy the images markdown cells take from nbs/ into index_files/; return the new text and the files."
    files = {}
    def _fix(m):
        pre, url, post = (m[1], m[2], m[3]) if m[1] else (m[4], m[5], m[6])
        if re.match(r'^[a-z][\w+.-]*:', url) or url.startswith(('/', '#', FILES+'/')): return m[0]
        p = (nbs/url).resolve()
        if not p.is_file(): raise SystemExit(f"make_readme: nbs/{nb_name} shows an image that does not exist: {url}")
        rel = (f"{FILES}/{p.relative_to(nbs.resolve()).as_posix()}" if p.is_relative_to(nbs.resolve())
               else f"{FILES}/{p.name}")
        files[rel] = p.read_bytes()
        return f"{pre}{rel}{post}"
    return _IMG.sub(_fix, md), files


def build(cfg):
    "README.md text and {path relative to the root: bytes} of its images."
    import nbformat
    nb = nbformat.read(process_index(cfg), as_version=4)
    body, outs = to_markdown(quarto_view(nb, cfg))
    body, copied = collect_images(body, cfg.nbs_path, cfg.readme_nb)
    body = re.sub(r'<style scoped>.*?</style>\n?', '', body, flags=re.S)  # GitHub would print pandas' CSS as text
    body = re.sub(r'(?m)^[ \t]+$', '', body)
    text = re.sub(r'\n{3,}', '\n\n', body).strip() + '\n'
    files = {**{k: (v.encode() if isinstance(v, str) else v) for k, v in outs.items()}, **copied}
    for m in _IMG.finditer(text):  # every image the README references exists beside it (or is a URL)
        url = m[2] or m[5]
        if url.startswith(FILES+'/') and url not in files:
            raise SystemExit(f"make_readme: README.md would reference a missing {url}")
    return text, files


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--check', action='store_true', help="write nothing; fail when README.md is out of date")
    args = ap.parse_args(argv)
    import os; os.chdir(ROOT)
    from nbdev.config import get_config
    cfg = get_config()
    text, files = build(cfg)
    readme, fdir = cfg.config_path/'README.md', cfg.config_path/FILES
    old_files = ({p.relative_to(cfg.config_path).as_posix(): p.read_bytes() for p in fdir.rglob('*') if p.is_file()}
                 if fdir.exists() else {})
    same = readme.exists() and readme.read_text(encoding='utf-8') == text and old_files == files
    if args.check:
        if same: print("README.md is up to date"); return 0
        print("README.md is out of date: run `make readme` and commit README.md"
              + (f" and {FILES}/" if files or old_files else '')); return 1
    if same: print("README.md is up to date"); return 0
    if old_files != files:
        shutil.rmtree(fdir, ignore_errors=True)
        for k, v in files.items():
            (cfg.config_path/k).parent.mkdir(parents=True, exist_ok=True); (cfg.config_path/k).write_bytes(v)
    if not readme.exists() or readme.read_text(encoding='utf-8') != text: readme.write_text(text, encoding='utf-8')
    print(f"wrote README.md ({len(text.splitlines())} lines)"
          + (f" and {len(files)} file(s) in {FILES}/" if files else ''))
    return 0


if __name__ == '__main__': sys.exit(main())
