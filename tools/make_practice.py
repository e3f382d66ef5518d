"""Write the practice copies of the course notebooks: practice/NN_name.ipynb from nbs/NN_name.ipynb.

    python tools/make_practice.py            # (or `make practice`) write practice/
    python tools/make_practice.py --check    # write nothing; exit 1 when practice/ is not what the notebooks give
    python tools/make_practice.py --solved --out /tmp/solved   # the same notebooks, with the original bodies

A practice copy keeps the code cells and the section headings of its notebook, without the prose (a
markdown cell is reduced to its heading lines, and dropped when it has none), except its closing
`## Questions` and `## Exercises`, which are kept whole. In a few exported functions per notebook, listed in
`EXERCISES`, the body is replaced by `raise NotImplementedError("Exercise: <hint>")`: the signature and
the docstring stay, and so do the checks (`test_eq`, `test_fail`) under them, so the learner's version is
checked by the notebook's own tests. Later cells call the notebook's definition, never the package's: a
notebook that imported one of its exercise functions from squad_nb would be refused here.

Nothing in a practice copy exports: the `#| default_exp` cell, the `#| export` markers and the final
`nbdev_export()` cell are left out, so running it never rewrites squad_nb/. nbdev_test reads only nbs/
(`nbs_path`), and practice/ holds a `.notest` file besides, so the practice copies are never run as tests
by nbdev; tests/test_practice.py runs them its own way. The files are generated: never edit them by hand.
"""
import argparse, ast, json, re, sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NBS, PRACTICE = ROOT/'nbs', ROOT/'practice'
sys.path.insert(0, str(ROOT/'tools'))
from badges import badge_line  # noqa: E402

# notebook -> {exported function: one-line hint}. A hint has no double quote or backslash.
EXERCISES = {
    '00_data': {
        '_check_answer': "slice `ctx` at `answer_start` for `len(text)` characters; if that is not the text, raise "
                         "SquadFormatError naming `where` with 'points at', adding 'only in case' when only the case "
                         "differs",
        'looks_like_path': "True for names ending in '.json', starting with '.', '/' or '~', holding a backslash, "
                            "or holding more than one '/'",
        'show_random_elements': "refuse n > len(ds) (the message says 'only <len>'), pick n distinct rows with "
                                "random.Random(seed).sample, sort them, and return HTML of a DataFrame with answers "
                                "shown by `_fmt_answers`",
    },
    '01_features': {
        'pair_template': "encode the pair ('a', 'b') with return_token_type_ids=True; `enc.sequence_ids()` says "
                         "where each text sits: the ids before, between and after them are prefix, middle and suffix",
        'window_spans': "one window (0, n) when n <= room; else a window starts every room - stride tokens, and the "
                        "first window that reaches n is the last",
        'answer_tokens': "None unless the window's first start <= start_char and its last end >= end_char; then "
                         "np.searchsorted finds the last token starting at or before start_char and the first "
                         "ending at or after end_char",
    },
    '02_postprocess': {
        'get_predictions': "zip `res.ids` with `res.prediction`, or with `res.predict(null_threshold)` when a "
                           "threshold is given",
        'get_null_score_diffs': "zip `res.ids` with `res.null_score_diff` as Python floats",
        'null_decision': "the null score is np.minimum.reduceat of `cls_score` at `first`; null_score_diff is "
                         "null - score, +inf where score is not finite (np.where); return both, and where each "
                         "`abstains` at null_threshold",
    },
    '03_metric': {
        'normalize_answer': "lower-case, delete string.punctuation (str.translate), replace the whole words "
                            "a/an/the by spaces, then join the words with single spaces",
        'token_f1': "split both normalized texts into words; if either is empty, 1 when both are; count the words "
                    "shared (Counter &), then precision, recall and their harmonic mean",
        'best_scores': "drop golds that normalize to '' (use [''] when none is left), then take the max of "
                       "`exact_match` and of `token_f1` over the golds",
        'apply_threshold': "a dict comprehension: '' where `abstains(null_score_diff[k], thresh)`, else the predicted "
                           "text",
    },
    '04_model': {
        '_check_model_folder': "look at the names in `folder`: raise FileNotFoundError for a missing config.json "
                               "('no config.json'), no *.safetensors ('no model.safetensors'), or no tokenizer file "
                               "('no tokenizer files')",
        'load_qa_config': "json.loads the CONFIG_NAME file of `folder` when it exists; else, for a folder with a "
                          "trainer_state.json, dict(checkpoint_step=its global_step); else {}",
        'qa_loss': "n is the number of tokens; clamp each position tensor to 0..n, take F.cross_entropy of the start "
                   "logits and of the end logits with ignore_index=n, and return their sum divided by 2",
    },
    '05_inference': {
        'tune_threshold': "score at the official `best_f1_thresh` and at `_below(res.null_score_diff)` (answering "
                          "nothing) with `_at`; keep answering nothing only when its f1 is higher by more than 1e-9",
        '_check_threshold': "return `t` when it is the string 'best' or a number (int, float or numpy float); "
                            "else raise ValueError saying to give a number or 'best'",
    },
    '06_evaluate': {
        '_eval_split': "`load_squad` a name or path, take `split` of a DatasetDict (error if absent), keep the first "
                       "`max_rows` rows, refuse 0 questions",
        '_questions': "the `data` file or Dataset when given (its validation split for a DatasetDict); else lists of "
                      "questions and contexts, checked ('the context is empty'), as a Dataset with ids q0, q1...",
    },
    '07_recipe': {
        'auto_or_bool': "lower-case the text; 'auto' stays 'auto', 1/true/yes/on give True, 0/false/no/off give "
                        "False; anything else raises a ValueError that says 'expected auto, true or false' and "
                        "what it got",
        'recipe_settings': "refuse unknown override names with `_check_names`, then `dataclasses.replace` the recipe "
                           "of `_as_recipe(recipe)` with the overrides that are not None",
    },
    '08_train': {
        '_prepare_output': "resume: the folder given, else the last of `complete_checkpoints(out/'checkpoints')` "
                           "(error 'no complete checkpoint' if none); without resume, refuse a folder with "
                           "config.json ('already holds a model') or checkpoints ('unfinished run') unless overwrite; "
                           "remove nothing",
        'complete_checkpoints': "the checkpoint-N folders of `folder` whose N is a number and that `_complete` "
                                "accepts, sorted by N",
        'cls_labelled': "a bool tensor: for each window, whether the token at its start label is the CLS token "
                        "(`int(x[s]) == cls_id` over zip(input_ids, start_positions))",
    },
    '09_retrain': {
        'keep_better': "when after['best_f1'] is strictly higher than before['best_f1'], "
                       "replace_folder(staged, target) and return 'retrained'; else remove the staged folder "
                       "(shutil.rmtree), copy src to target (shutil.copytree, dirs_exist_ok=True) when they are "
                       "different folders, and return 'original'",
        '_original': "`model_dir` as a Path when it is a folder; else save `qa` (model, tokenizer, config) with "
                     "`save_qa_model` into `staging_folder(target, 'original')` and return that folder",
    },
    '10_widgets': {
        'mark_spans': "refuse unknown kinds and ranges outside the text ('is outside the text of <n> characters'); "
                      "cut the text at every range boundary; merge neighbouring pieces covered by the same kinds; "
                      "escape every piece, wrapping covered ones with `_mark`",
        'answer_spans': "(answer_start, answer_start + len(text)) for each gold answer, duplicates dropped "
                        "(dict.fromkeys keeps the order)",
        'locate_answer': "`context.find(text)` when text is not empty; None when it is empty or not found, "
                         "else (start, start + len(text))",
    },
    '11_cli': {
        '_parser': "argparse.ArgumentParser(prog='squad_nb'), add_subparsers(dest='command', required=True), and "
                   "for each command a sub-parser filled by its `_<name>_args` function, its docstring as help",
        'main': "parse `argv`, run `cmd_<command>`; on `_USER_ERRORS` print 'squad_nb <command>: error: <e>' to "
                "stderr and sys.exit(1); print the result as JSON on the main process and return nothing",
    },
    '13_runtime': {
        'replace_folder': "fsync every path of `staged`; rename an existing `target` to '<name>.old', rename `staged` "
                          "to `target`, fsync the parent folder, then delete the .old folder; return `target`",
        'keep_random_state': "save random.getstate(), np.random.get_state() and torch's rng state (and CUDA's when "
                             "available), yield, and set them all back in a finally block",
    },
}

_EXPORT = re.compile(r'^\s*#\|\s*export[si]?\b.*$')
_DEFAULT_EXP = re.compile(r'^\s*#\|\s*default_exp\b', re.M)
_HEADING = re.compile(r'^#{1,6} \S')
_QE = re.compile(r'^## (Questions|Exercises)\s*$', re.M)


def course_notebooks(nbs=NBS) -> list:
    "The numbered course notebooks, nbs/NN_name.ipynb, in order."
    return sorted(p for p in Path(nbs).glob('[0-9][0-9]_*.ipynb'))


def stub_message(hint:str) -> str:
    "The text of the `NotImplementedError` that replaces a function's body."
    return f'Exercise: {hint}'


def _function(tree, name):
    fns = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == name]
    return fns[0] if fns else None


def function_source(src:str, name:str) -> str:
    "The source (decorators included) of the top-level function `name` of the code `src`."
    fn = _function(ast.parse(src), name)
    if fn is None: raise ValueError(f"no top-level function {name!r} in this code")
    start = min([d.lineno for d in fn.decorator_list] + [fn.lineno])
    return ''.join(src.splitlines(True)[start-1:fn.end_lineno])


def stub_function(src:str, name:str, hint:str) -> str:
    "`src` with the body of function `name` after its docstring replaced by `raise NotImplementedError(...)`."
    if '"' in hint or '\\' in hint: raise ValueError(f"the hint of {name!r} must have no double quote or backslash")
    fn = _function(ast.parse(src), name)
    if fn is None: raise ValueError(f"no top-level function {name!r} in this code")
    if ast.get_docstring(fn) is None:
        raise ValueError(f"{name!r} has no docstring: a practice function keeps its docstring")
    doc = fn.body[0]
    if doc.lineno == fn.lineno or len(fn.body) < 2:
        raise ValueError(f"{name!r}: expected a docstring line and a body below the signature")
    lines = src.splitlines(True)
    indent = re.match(r'\s*', lines[doc.lineno-1]).group()
    raise_line = f'{indent}raise NotImplementedError("{stub_message(hint)}")\n'
    out = ''.join(lines[:doc.end_lineno]) + raise_line + ''.join(lines[fn.end_lineno:])
    return out if src.endswith('\n') else out.rstrip('\n')


# What a hint may say a function does, by verb: (the verbs, what saying them claims, the evidence the body must then
# hold). A verb followed by "nothing" claims the opposite: then the body must hold no such evidence. A docstring may
# deny one too ("removing nothing"), and the hint must not claim it then.
_VERBS = dict(print=(r'print|prints|printing', 'prints', 'print call'),
              delete=(r'delete|deletes|deleting|remove|removes|removing|rmtree|unlink', 'deletes files',
                      'rmtree, unlink, remove or rmdir call'),
              ret=(r'return|returns|returning', 'returns a value', 'return with a value'),
              raise_=(r'raise|raises|raising|refuse|refuses|refusing', 'raises', 'raise'))
_FILES = re.compile(r'\b(folder|file|files|directory|checkpoint|checkpoints)\b', re.I)


def _claims(text:str, kind:str) -> set:
    "Whether `text` says the function does `kind` (True), does not (False, the verb followed by 'nothing'), or both."
    return {not m.group(2) for m in re.finditer(rf'\b({_VERBS[kind][0]})\b(\s+nothing\b)?', text, re.I)}


def _own_nodes(fn):
    "The nodes of a function's body, not those of the functions or classes defined inside it."
    inner = lambda nodes: [c for c in nodes
                           if not isinstance(c, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    todo = inner(fn.body)
    while todo:
        n = todo.pop()
        yield n
        todo += inner(ast.iter_child_nodes(n))


def _evidence(fn) -> set:
    "The kinds of action the body of `fn` shows: printing, deleting files, returning a value, raising."
    out = set()
    for n in _own_nodes(fn):
        if isinstance(n, ast.Raise): out.add('raise_')
        if (isinstance(n, ast.Return) and n.value is not None
                and not (isinstance(n.value, ast.Constant) and n.value.value is None)): out.add('ret')
        if isinstance(n, ast.Call):
            f = ast.unparse(n.func)
            if re.search(r'(^|\.)print$', f): out.add('print')
            if re.search(r'rmtree|unlink|remove|rmdir', f): out.add('delete')
            if re.search(r'check|fail', f): out.add('raise_')  # a helper that raises for it
    return out


def hint_problems(fn, # the `ast.FunctionDef` of an exercise function
                  hint:str, # its one-line hint
                 ) -> list:
    "How `hint` contradicts the docstring or the body of `fn`: each verb it uses must match what the body does."
    doc, shown, out = ast.get_docstring(fn) or '', _evidence(fn), []
    for kind in _VERBS:
        if kind == 'delete' and not _FILES.search(hint + ' ' + doc): continue  # deleting characters, not files
        said, denied, (_, does, needs) = _claims(hint, kind), _claims(doc, kind), _VERBS[kind]
        if True in said and kind not in shown:
            out.append(f"{fn.name}: the hint says it {does}, but its body has no {needs}")
        if said == {False} and kind in shown:
            out.append(f"{fn.name}: the hint says it does not ('... nothing'), but its body has a {needs}")
        if True in said and denied == {False}:
            out.append(f"{fn.name}: the hint says it {does}, but its docstring says it does not ('... nothing')")
    return out


def _headings(md:str) -> str:
    "The heading lines of a markdown text (not those inside code fences)."
    out, fence = [], False
    for line in md.splitlines():
        if line.lstrip().startswith(('```', '~~~')): fence = not fence; continue
        if not fence and _HEADING.match(line): out.append(line)
    return '\n'.join(out)


def _title(nb) -> tuple:
    "The notebook's `# Title` and `> description`."
    src = nb.cells[0].source if nb.cells and nb.cells[0].cell_type == 'markdown' else ''
    title = next((l[2:].strip() for l in src.splitlines() if l.startswith('# ')), None)
    if title is None: raise ValueError("the first cell of a course notebook must hold its `# Title`")
    desc = next((l[1:].strip() for l in src.splitlines() if l.startswith('>')), '')
    return title, desc


def _intro(name:str, title:str, desc:str, funcs:list) -> str:
    "The markdown cell that opens a practice copy and says how to use it."
    parts = [f'# Practice: {title}'] + ([f'> {desc}'] if desc else []) + [badge_line(f'practice/{name}.ipynb'),
             f'This is the practice copy of the course notebook [{name}](../nbs/{name}.ipynb): the same code cells '
             'and section headings, without the explanations. Read the course notebook (or its page on the docs site) '
             'first, then work here, cell by cell.']
    items = []
    if funcs:
        todo = ', '.join(f'`{f}`' for f in funcs)
        items.append(f'- **Your part**: the bodies of {todo} are replaced by `raise NotImplementedError(...)` '
                     'with a hint. Write each one where it stands, keeping its signature and docstring. The checks '
                     "right below it (`test_eq`, `test_fail`) are the course notebook's own: they pass when your "
                     "version is right, and the cells after them use your definitions, not the package's.")
    items += ['- **Questions and Exercises** close the notebook, as in the course notebook.',
              '- Nothing here exports to `squad_nb`: the `#| default_exp` and `#| export` markers are left out, '
              'so running this notebook never changes the package. Cells marked `#| eval: false` need internet '
              '(the Hugging Face hub).',
              f'- This file is generated: `make practice` (`python tools/make_practice.py`) writes it again from '
              f'`nbs/{name}.ipynb`, overwriting your changes, so work on a copy (`cp practice/{name}.ipynb '
              f'practice/my_{name}.ipynb`) to keep them.']
    return '\n\n'.join(parts) + '\n\n' + '\n'.join(items)


def _check_imports(cells, name, funcs):
    "Refuse a notebook that imports one of its exercise functions from squad_nb: later cells must use the notebook's."
    for c in cells:
        if c.cell_type != 'code': continue
        for line in c.source.splitlines():
            if not re.search(r'\bsquad_nb\b', line): continue
            for f in funcs:
                if (re.search(rf'^\s*(from|import)\b.*\b{re.escape(f)}\b', line)
                        or re.search(rf'squad_nb\.\w+\.{re.escape(f)}\b', line)):
                    raise ValueError(f"nbs/{name}.ipynb: `{line.strip()}` uses the package's {f}; "
                                     "its practice copy must use the notebook's")


def practice_notebook(path, # a course notebook, nbs/NN_name.ipynb
                      solved=False, # keep the original bodies of the exercise functions
                      exercises=None, # {function: hint}; default: EXERCISES of this notebook
                     ):
    "The practice copy of a course notebook, as an nbformat notebook."
    path = Path(path); name = path.stem
    nb = nbformat.read(path, as_version=4)
    funcs = EXERCISES.get(name, {}) if exercises is None else exercises
    if len({stub_message(h) for h in funcs.values()}) < len(funcs):
        raise ValueError(f"{name}: two exercise hints are the same")
    _check_imports(nb.cells, name, funcs)
    title, desc = _title(nb)
    cells, found, qe = [], {}, False
    for i, c in enumerate(nb.cells[1:], 1):
        cid = c.get('id') or f'cell-{i}'  # the course cell's id, so that the copy is the same at every run
        if c.cell_type == 'markdown':
            qe = qe or bool(_QE.search(c.source))
            src = c.source if qe else _headings(c.source)
            if src.strip(): cells.append(nbformat.v4.new_markdown_cell(src, id=cid))
            continue
        if c.cell_type != 'code': continue
        if _DEFAULT_EXP.search(c.source) or 'nbdev_export(' in c.source: continue
        exported = any(_EXPORT.match(l) for l in c.source.splitlines())
        src = '\n'.join(l for l in c.source.splitlines() if not _EXPORT.match(l))
        tree = ast.parse(src) if exported else None
        for f, hint in funcs.items():
            if tree is None or _function(tree, f) is None: continue
            if f in found: raise ValueError(f"nbs/{name}.ipynb defines {f} twice")
            found[f] = True
            bad = hint_problems(_function(tree, f), hint)
            if bad: raise ValueError(f"nbs/{name}.ipynb: the hint of {f} does not agree with it: " + '; '.join(bad))
            if not solved: src = stub_function(src, f, hint)
        cells.append(nbformat.v4.new_code_cell(src, id=cid))
    missing = [f for f in funcs if f not in found]
    if missing: raise ValueError(f"nbs/{name}.ipynb has no exported top-level function {', '.join(missing)}")
    cells.insert(0, nbformat.v4.new_markdown_cell(_intro(name, title, desc, list(found)), id='practice-intro'))
    out = nbformat.v4.new_notebook(cells=cells,
                                   metadata={k: nb.metadata[k] for k in ('kernelspec',) if k in nb.metadata})
    nbformat.validate(out)
    return out


def practice_text(path, solved=False) -> str:
    "The practice copy of `path` as the text of its .ipynb file."
    s = nbformat.writes(practice_notebook(path, solved), version=4)
    return s if s.endswith('\n') else s + '\n'


def write_practice(out=PRACTICE, nbs=NBS, solved=False) -> list:
    "Write the practice copy of each course notebook into `out` (and its `.notest`); only changed files are rewritten."
    out = Path(out); out.mkdir(parents=True, exist_ok=True)
    (out/'.notest').touch()
    paths = []
    for p in course_notebooks(nbs):
        dst, text = out/p.name, practice_text(p, solved)
        if not dst.exists() or dst.read_text(encoding='utf-8') != text: dst.write_text(text, encoding='utf-8')
        paths.append(dst)
    return paths


def normalised(text:str) -> dict:
    "A notebook's text without what running it changes (outputs, execution counts) and with one kind of line ending."
    nb = json.loads(text.replace('\r\n', '\n'))
    for c in nb.get('cells', []):
        c.pop('outputs', None); c.pop('execution_count', None)
    return nb


def stale(out=PRACTICE, nbs=NBS) -> list:
    "Names of the practice copies in `out` missing or differing from what the notebooks give (and a missing .notest)."
    out, bad = Path(out), []
    for p in course_notebooks(nbs):
        dst = out/p.name
        if not dst.exists() or normalised(dst.read_text(encoding='utf-8')) != normalised(practice_text(p)):
            bad.append(p.name)
    if not (out/'.notest').exists(): bad.append('.notest')
    return bad

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', default=str(PRACTICE), help='folder to write (default: practice/)')
    ap.add_argument('--solved', action='store_true', help='keep the original bodies of the exercise functions')
    ap.add_argument('--check', action='store_true', help='write nothing; exit 1 if the folder is stale')
    a = ap.parse_args()
    if a.check:
        bad = stale(a.out)
        if bad: sys.exit(f"{a.out} is out of date ({', '.join(bad)}): run `make practice`")
        print(f"{a.out} is up to date")
    else:
        for p in write_practice(a.out, solved=a.solved): print(p.relative_to(ROOT) if p.is_relative_to(ROOT) else p)
