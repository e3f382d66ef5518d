"""`squad_nb.metric` against the official SQuAD v2.0 evaluation script, on the shared SQuAD v2 files.

The official script runs as a subprocess on the same randomized predictions and no-answer scores; every key it
writes must equal ours to 1e-9. The shared files live in ../shared beside the project root: a missing one fails."""
import json, math, random, subprocess, sys
from pathlib import Path
import pytest
from squad_nb.metric import squad_v2_score, threshold_curve, qa_report, normalize_answer, best_scores, CATEGORIES

SHARED = Path(__file__).resolve().parents[1].parent/'shared'
OFFICIAL = SHARED/'reference'/'evaluate-v2.0.py'
DATA = SHARED/'data'/'squad_v2'

def need(path:Path) -> Path:
    "`path`, or a test failure naming it: the shared files are required, never skipped."
    if not path.is_file(): pytest.fail(f"required file missing: {path} (the tests need ../shared beside the project root)")
    return path

def load_split(name):
    "Path, parsed official JSON and hub-shaped rows (with context) of a shared SQuAD v2 file."
    path = need(DATA/f'{name}.json')
    d = json.loads(path.read_text(encoding='utf-8'))
    rows = [dict(id=q['id'], title=a['title'], context=p['context'], question=q['question'],
                 answers=dict(text=[x['text'] for x in q['answers']], answer_start=[x['answer_start'] for x in q['answers']]))
            for a in d['data'] for p in a['paragraphs'] for q in p['qas']]
    return path, d, rows

@pytest.fixture(scope='module', params=['train', 'valid'])
def split(request): return load_split(request.param)

@pytest.fixture(scope='module')
def valid(): return load_split('valid')

def run_official(data_path, preds, tmp_path, null_score_diff=None, thresh=None) -> dict:
    "The official script's metrics for `preds` (and `null_score_diff`, `thresh`) on the SQuAD JSON file `data_path`."
    pf, nf, out = tmp_path/'preds.json', tmp_path/'null_score_diff.json', tmp_path/'eval.json'
    pf.write_text(json.dumps(preds))
    cmd = [sys.executable, str(need(OFFICIAL)), str(data_path), str(pf), '--out-file', str(out)]
    if null_score_diff is not None:
        nf.write_text(json.dumps(null_score_diff)); cmd += ['--na-prob-file', str(nf)]
    if thresh is not None: cmd.append(f'--na-prob-thresh={thresh!r}')
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, f"official script failed:\n{r.stderr}"
    return json.loads(out.read_text())

def assert_same(ours:dict, official:dict):
    "Same keys in the same order, every value equal to 1e-9."
    assert list(ours) == list(official)
    for k, v in official.items(): assert ours[k] == pytest.approx(v, rel=0, abs=1e-9), k

# Texts that catch normalization details: unicode, punctuation only, articles only, whitespace only.
ODD = ['', ' ', '\t\n ', '...', '?!', '—', '“ ”', 'the', 'The', 'a', ' an ', 'the.', 'A the', 'café', 'Zürich',
       '北京', 'naïve résumé', '¿Qué?', 'Ωmega-3', 'l’été', 'the-end', 'A.M.', "an'", 'Theater']

def variant(g, rng):
    "The gold answer `g` written differently but equal after normalization (mostly)."
    return rng.choice([g.upper(), f'  {g}  ', g + '.', 'the ' + g, g.replace(' ', ' \t '), f'"{g}"', 'An ' + g.lower(), 'the-' + g])

def make_predictions(rows, rng) -> dict:
    "Random predictions mixing right, reworded, partial (sub- and superstrings), wrong, empty and odd answers."
    preds = {}
    for r in rows:
        golds, starts, ctx = r['answers']['text'], r['answers']['answer_start'], r['context']
        u, words = rng.random(), ctx.split()
        if golds: j = rng.randrange(len(golds)); g, s = golds[j], starts[j]
        if golds and u < .25: p = g
        elif golds and u < .35: p = variant(g, rng)
        elif golds and u < .45: p = g[rng.randrange(len(g)):] if rng.random() < .5 else g[:rng.randint(1, len(g))]
        elif golds and u < .55: p = ctx[max(0, s - rng.randint(1, 30)): s + len(g) + rng.randint(0, 30)]
        elif not golds and u < .3: p = ''
        elif u < .75: i = rng.randrange(len(words)); p = ' '.join(words[i:i+rng.randint(1, 6)])
        elif u < .85: p = ''
        else: p = rng.choice(ODD)
        preds[r['id']] = p
    return preds

def make_na_probs(rows, preds, rng, mode) -> dict:
    "No-answer scores in a shuffled id order (ties follow it), plus ids the references do not hold."
    ids = [r['id'] for r in rows]; rng.shuffle(ids)
    has = {r['id']: bool(r['answers']['text']) for r in rows}
    if mode == 'uniform': na = {k: rng.random() for k in ids}
    elif mode == 'ties': na = {k: rng.choice([0, 0.25, 0.5, 0.75, 1]) for k in ids}
    else: na = {k: rng.gauss(-1.0 if has[k] else 1.0, 2.0) for k in ids}  # null score differences
    return {**na, 'not-a-question-1': 0.3, 'not-a-question-2': -5.0}

@pytest.mark.parametrize('seed,thresh', [(0, None), (1, -0.5)])
def test_official_without_na_probs(split, tmp_path, seed, thresh):
    path, d, rows = split
    preds = make_predictions(rows, random.Random(seed))
    ours = squad_v2_score(preds, rows) if thresh is None else squad_v2_score(preds, rows, no_answer_threshold=thresh)
    assert_same(ours, run_official(path, preds, tmp_path, thresh=thresh))
    assert 'best_f1' not in ours

@pytest.mark.parametrize('seed,mode,thresh', [(0, 'uniform', None), (1, 'uniform', 0.5), (2, 'ties', 0.5),
                                              (3, 'ties', 0.75), (4, 'logits', 0.0), (5, 'logits', -1.5)])
def test_official_with_na_probs(split, tmp_path, seed, mode, thresh):
    path, d, rows = split
    rng = random.Random(seed)
    preds = make_predictions(rows, rng)
    na = make_na_probs(rows, preds, rng, mode)
    ours = squad_v2_score(preds, rows, na) if thresh is None else squad_v2_score(preds, rows, na, no_answer_threshold=thresh)
    official = run_official(path, preds, tmp_path, na, thresh)
    assert_same(ours, official)
    assert 0 < official['HasAns_total'] < official['total'] and 'best_f1_thresh' in official

def subset_json(d, keep) -> dict:
    "The official JSON `d` with only the questions for which `keep(question)` is true."
    return {'version': d['version'], 'data': [
        {'title': a['title'], 'paragraphs': [{'context': p['context'], 'qas': [q for q in p['qas'] if keep(q)]}
                                             for p in a['paragraphs']]} for a in d['data']]}

@pytest.mark.parametrize('answerable', [True, False])
def test_official_on_one_sided_subsets(split, tmp_path, answerable):
    path, d, rows = split
    sub = tmp_path/'subset.json'
    sub.write_text(json.dumps(subset_json(d, lambda q: bool(q['answers']) == answerable)))
    rows = [r for r in rows if bool(r['answers']['text']) == answerable]
    rng = random.Random(11)
    preds = make_predictions(rows, rng)
    na = make_na_probs(rows, preds, rng, 'logits')
    ours = squad_v2_score(preds, rows, na, no_answer_threshold=0.0)
    assert_same(ours, run_official(sub, preds, tmp_path, na, 0.0))
    assert any(k.startswith('HasAns') for k in ours) == answerable
    assert any(k.startswith('NoAns') for k in ours) != answerable
    assert_same(squad_v2_score(preds, rows), run_official(sub, preds, tmp_path))

def test_evaluate_shapes(valid, tmp_path):
    "Code written for evaluate's squad_v2 works unchanged; no_answer_probability gives the best thresholds."
    path, d, rows = valid
    rng = random.Random(21)
    preds = make_predictions(rows, rng)
    na = make_na_probs(rows, preds, rng, 'ties')
    order = list(preds); rng.shuffle(order)
    ev_preds = [{'id': k, 'prediction_text': preds[k], 'no_answer_probability': na[k]} for k in order]
    ev_refs = [{'id': r['id'], 'answers': r['answers']} for r in rows]
    ours = squad_v2_score(predictions=ev_preds, references=ev_refs)
    assert_same(ours, run_official(path, preds, tmp_path, {k: na[k] for k in order}))
    assert squad_v2_score(predictions=ev_preds, references=ev_refs, no_answer_threshold=0.5) == \
           squad_v2_score(preds, rows, {k: na[k] for k in order}, no_answer_threshold=0.5)

def test_dataset_references(valid):
    from datasets import Dataset
    path, d, rows = valid
    rng = random.Random(3)
    preds = make_predictions(rows, rng); na = make_na_probs(rows, preds, rng, 'uniform')
    assert squad_v2_score(preds, Dataset.from_list(rows), na, 0.4) == squad_v2_score(preds, rows, na, 0.4)

def test_id_errors(valid):
    path, d, rows = valid
    preds = make_predictions(rows, random.Random(0)); n = len(rows)
    dropped = [r['id'] for r in rows[10:15]]
    with pytest.raises(ValueError, match=rf"5 of {n} reference questions have no predictions \(e\.g\. '{dropped[0]}'"):
        squad_v2_score({k: v for k, v in preds.items() if k not in dropped}, rows)
    with pytest.raises(ValueError, match=r"2 predictions have ids not in the references \(e\.g\. 'x1', 'x2'\)"):
        squad_v2_score({**preds, 'x1': 'a', 'x2': ''}, rows)
    with pytest.raises(ValueError, match=rf"1 of {n} reference questions have no null_score_diff \(e\.g\. '{rows[0]['id']}'\)"):
        squad_v2_score(preds, rows, {r['id']: 0.5 for r in rows[1:]})
    with pytest.raises(ValueError, match='NaN'):
        squad_v2_score(preds, rows, {r['id']: math.nan for r in rows})
    ev = [{'id': k, 'prediction_text': t, 'no_answer_probability': 0.1} for k, t in preds.items()]
    del ev[3]['no_answer_probability']
    with pytest.raises(ValueError, match="1 of .* lack 'no_answer_probability'"): squad_v2_score(ev, rows)
    with pytest.raises(ValueError, match="appears twice"): squad_v2_score(preds, rows + rows[:1])

def curve_inputs(rows, seed):
    "Predictions and untied null odds that favour right answers; no unanswerable question gets a text that normalizes to ''."
    rng = random.Random(seed)
    preds = make_predictions(rows, rng)
    for r in rows:
        if not r['answers']['text'] and not normalize_answer(preds[r['id']]): preds[r['id']] = ''
    f1 = {r['id']: best_scores(r['answers']['text'], preds[r['id']])[1] for r in rows}
    return preds, {k: rng.gauss(-1.0 if f1[k] > 0 else 1.0, 1.0) for k in preds}

def test_curve_best_point_is_official_best(split):
    path, d, rows = split
    preds, odds = curve_inputs(rows, 5)
    s, curve = squad_v2_score(preds, rows, odds), threshold_curve(preds, rows, odds)
    assert len(curve) == len(rows) + 1 and curve.threshold.is_monotonic_increasing
    for m in ['exact', 'f1']:
        best = curve.loc[curve[m].idxmax()]
        assert best.threshold != -math.inf
        assert best[m] == pytest.approx(s[f'best_{m}'], abs=1e-9) and best.threshold == s[f'best_{m}_thresh']
        assert squad_v2_score(preds, rows, odds, best.threshold)[m] == pytest.approx(best[m], abs=1e-9)

@pytest.mark.parametrize('mode', ['ties', 'logits'])
def test_curve_rows_are_the_metric_at_their_threshold(valid, mode):
    path, d, rows = valid
    rng = random.Random(8)
    preds = make_predictions(rows, rng); na = make_na_probs(rows, preds, rng, mode)
    curve = threshold_curve(preds, rows, na)
    assert len(curve) == len({na[r['id']] for r in rows}) + 1
    first = curve.iloc[0]  # everything answered ''
    assert first.kept == 0 and first.HasAns_f1 == 0 and first.NoAns_f1 == 100
    for i in [1, 2, len(curve)//2, len(curve)-1]:
        row = curve.iloc[i]
        s = squad_v2_score(preds, rows, na, no_answer_threshold=row.threshold)
        assert row.kept == sum(na[r['id']] <= row.threshold for r in rows)
        for k in ['exact', 'f1', 'HasAns_exact', 'HasAns_f1', 'NoAns_exact', 'NoAns_f1']:
            assert row[k] == pytest.approx(s[k], abs=1e-9), (i, k)

def test_curve_on_one_sided_subset(valid):
    path, d, rows = valid
    rows = [r for r in rows if not r['answers']['text']]
    preds, odds = curve_inputs(rows, 2)
    curve = threshold_curve(preds, rows, odds)
    assert list(curve.columns) == ['threshold', 'kept', 'exact', 'f1', 'NoAns_exact', 'NoAns_f1']
    with pytest.raises(ValueError, match='null_score_diff'): threshold_curve(preds, rows)

def test_qa_report(valid):
    path, d, rows = valid
    rng = random.Random(4)
    preds = make_predictions(rows, rng); na = make_na_probs(rows, preds, rng, 'logits')
    rep, s = qa_report(rows, preds, na), squad_v2_score(preds, rows)
    assert list(rep.id) == [r['id'] for r in rows] and list(rep.question) == [r['question'] for r in rows]
    assert list(rep.null_score_diff) == [na[r['id']] for r in rows]
    assert rep.exact.mean()*100 == pytest.approx(s['exact'], abs=1e-9) and rep.f1.mean()*100 == pytest.approx(s['f1'], abs=1e-9)
    assert set(rep.category) == set(CATEGORIES)
    for r in rep.itertuples():
        empty = not normalize_answer(r.prediction)
        expected = ('correct' if r.exact else 'false answer' if not r.has_answer else 'false no-answer' if empty
                    else 'partial' if r.f1 > 0 else 'wrong span')
        assert r.category == expected, r
        assert r.has_answer == bool(r.gold) and 0 <= r.f1 <= 1
    assert qa_report(rows, preds).null_score_diff.isna().all()

def official_on_files(data_path, preds_file, out, na_file=None, thresh=None) -> dict:
    "The official script's metrics on files as they lie on disk."
    cmd = [sys.executable, str(need(OFFICIAL)), str(data_path), str(preds_file), '--out-file', str(out)]
    if na_file is not None: cmd += ['--na-prob-file', str(na_file)]
    if thresh is not None: cmd.append(f'--na-prob-thresh={thresh!r}')
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, f"official script failed:\n{r.stderr}"
    return json.loads(out.read_text())

def test_evaluation_files_reproduce_every_metric(valid, tiny, tmp_path):
    "Each figure of metrics.json is what the official script prints on the files evaluate_qa wrote, by the command metrics.json names."
    from squad_nb.evaluate import evaluate_qa, REPRODUCE
    path, d, rows = valid
    keep = {r['id'] for r in rows[:80]}
    sub = tmp_path/'sub.json'; sub.write_text(json.dumps(subset_json(d, lambda q: q['id'] in keep)))
    diffs = sorted(evaluate_qa(tiny, sub, progress=False).result.null_score_diff)
    ev = evaluate_qa(tiny, sub, tmp_path/'eval', null_threshold=float(diffs[len(diffs)//2]), progress=False)  # abstains on half
    e = tmp_path/'eval'; m = json.loads((e/'metrics.json').read_text())
    assert m['reproduce'] == REPRODUCE and 0 < list(json.loads((e/'predictions.json').read_text()).values()).count('') < len(keep)
    plain = official_on_files(sub, e/'predictions.json', tmp_path/'o1.json')
    assert_same({k: m[k] for k in plain}, plain)
    searched = official_on_files(sub, e/'best_spans.json', tmp_path/'o2.json', e/'null_odds.json')
    assert_same({k: m[k] for k in searched if k.startswith('best_')}, {k: v for k, v in searched.items() if k.startswith('best_')})
    at_best = official_on_files(sub, e/'best_spans.json', tmp_path/'o3.json', e/'null_odds.json', m['best_threshold'])
    assert_same(m['at_best_threshold'], at_best)
    thresholded = official_on_files(sub, e/'predictions.json', tmp_path/'o4.json', e/'null_odds.json')
    assert thresholded['best_f1'] <= m['best_f1'] + 1e-9   # a search over "" cannot bring abstained spans back
    forced = official_on_files(sub, e/'best_spans.json', tmp_path/'o5.json')
    assert m['HasAns_f1_forced'] == pytest.approx(forced['HasAns_f1'], rel=0, abs=1e-9)
